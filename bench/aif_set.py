"""Equations from the AI Feynman benchmark (Udrescu & Tegmark 2020, "AI Feynman: a physics-inspired
method for symbolic regression", table of Feynman equations / FeynmanEquations.csv), written from
the published table with its published sampling ranges, for bench_feynman.py's ``--set aif``.

Conventions: variables renamed ``x_1 … x_n`` in the table's order (the comment gives the original
names); physical constants that the table samples like any variable (G, ε, ħ, k_b, c, …) stay
variables; fixed numbers (4π, 1/2, 3/5) stay numbers. At most 6 variables: I.9.18 (9 in the table)
is shown with G = 1 and z_1 = z_2, i.e. its 2-D form; the others are the table's own.
Names follow pykan's spelling of the table ("I.6.20a" is the csv's "I.6.2a").
"""

from __future__ import annotations

# (name, formula, ranges)
AIF = [
    ("I.6.20a", "exp(-x_1**2/2)/sqrt(2*pi)", [[1, 3]]),  # theta
    ("I.6.20", "exp(-(x_2/x_1)**2/2)/(sqrt(2*pi)*x_1)", [[1, 3], [1, 3]]),  # sigma, theta
    (
        "I.8.14",  # x1, x2, y1, y2
        "sqrt((x_2 - x_1)**2 + (x_4 - x_3)**2)",
        [[1, 5], [1, 5], [1, 5], [1, 5]],
    ),
    (
        "I.9.18",  # m1, m2, x1, x2, y1, y2 (G = 1, z1 = z2)
        "x_1*x_2/((x_4 - x_3)**2 + (x_6 - x_5)**2)",
        [[1, 2], [1, 2], [3, 4], [1, 2], [3, 4], [1, 2]],
    ),
    ("I.10.7", "x_1/sqrt(1 - x_2**2/x_3**2)", [[1, 5], [1, 2], [3, 10]]),  # m0, v, c
    (
        "I.11.19",  # x1, x2, x3, y1, y2, y3
        "x_1*x_4 + x_2*x_5 + x_3*x_6",
        [[1, 5]] * 6,
    ),
    ("I.12.1", "x_1*x_2", [[1, 5], [1, 5]]),  # mu, Nn
    ("I.12.2", "x_1*x_2/(4*pi*x_3*x_4**2)", [[1, 5]] * 4),  # q1, q2, epsilon, r
    ("I.12.11", "x_1*(x_2 + x_3*x_4*sin(x_5))", [[1, 5]] * 5),  # q, Ef, B, v, theta
    ("I.13.4", "x_1*(x_2**2 + x_3**2 + x_4**2)/2", [[1, 5]] * 4),  # m, v, u, w
    ("I.14.3", "x_1*x_2*x_3", [[1, 5]] * 3),  # m, g, z
    (
        "I.15.3x",  # x, u, c, t
        "(x_1 - x_2*x_4)/sqrt(1 - x_2**2/x_3**2)",
        [[5, 10], [1, 2], [3, 20], [1, 2]],
    ),
    ("I.18.4", "(x_1*x_3 + x_2*x_4)/(x_1 + x_2)", [[1, 5]] * 4),  # m1, m2, r1, r2
    ("I.24.6", "x_1*(x_2**2 + x_3**2)*x_4**2/4", [[1, 3]] * 4),  # m, omega, omega0, x
    ("I.25.13", "x_1/x_2", [[1, 5], [1, 5]]),  # q, C
    ("I.26.2", "asin(x_1*sin(x_2))", [[0, 1], [1, 5]]),  # n, theta2
    ("I.29.4", "x_1/x_2", [[1, 10], [1, 10]]),  # omega, c
    ("I.30.3", "x_1*sin(x_2*x_3/2)**2/sin(x_3/2)**2", [[1, 5]] * 3),  # Int0, n, theta
    ("I.32.5", "x_1**2*x_2**2/(6*pi*x_3*x_4**3)", [[1, 5]] * 4),  # q, a, epsilon, c
    ("I.34.8", "x_1*x_2*x_3/x_4", [[1, 5]] * 4),  # q, v, B, p
    ("I.37.4", "x_1 + x_2 + 2*sqrt(x_1*x_2)*cos(x_3)", [[1, 5]] * 3),  # I1, I2, delta
    ("I.39.10", "3*x_1*x_2/2", [[1, 5], [1, 5]]),  # pF, V
    (
        "I.40.1",  # n0, m, x, T, g, kb
        "x_1*exp(-x_2*x_5*x_3/(x_6*x_4))",
        [[1, 5]] * 6,
    ),
    (
        "I.41.16",  # omega, T, hbar, kb, c
        "x_3*x_1**3/(pi**2*x_5**2*(exp(x_3*x_1/(x_4*x_2)) - 1))",
        [[1, 5]] * 5,
    ),
    ("I.43.31", "x_1*x_2*x_3", [[1, 5]] * 3),  # mob, kb, T
    ("I.44.4", "x_1*x_2*x_3*log(x_5/x_4)", [[1, 5]] * 5),  # n, kb, T, V1, V2
    ("I.47.23", "sqrt(x_1*x_2/x_3)", [[1, 5]] * 3),  # gamma, pr, rho
    ("I.48.2", "x_1*x_3**2/sqrt(1 - x_2**2/x_3**2)", [[1, 5], [1, 2], [3, 10]]),  # m, v, c
    (
        "II.6.15a",  # epsilon, p_d, r, x, y, z
        "3*x_2*x_6*sqrt(x_4**2 + x_5**2)/(4*pi*x_1*x_3**5)",
        [[1, 3]] * 6,
    ),
    (
        "II.11.27",  # n, alpha, epsilon, Ef
        "x_1*x_2/(1 - x_1*x_2/3)*x_3*x_4",
        [[0, 1], [0, 1], [1, 2], [1, 2]],
    ),
    ("II.34.29a", "x_1*x_2/(4*pi*x_3)", [[1, 5]] * 3),  # q, h, m
    ("III.4.33", "x_1*x_2/(exp(x_1*x_2/(x_3*x_4)) - 1)", [[1, 5]] * 4),  # hbar, omega, kb, T
    ("III.8.54", "sin(x_1*x_2/x_3)**2", [[1, 2], [1, 2], [1, 4]]),  # E, t, hbar
    ("III.15.12", "2*x_1*(1 - cos(x_2*x_3))", [[1, 5]] * 3),  # U, k, d
]
