"""Class leftovers in the browser (issue 15): a plain viewer link follows the owner's selection
with the class follower's toggle; every dashboard card draws the student's network as a mini
diagram (edge by edge, pruned edges marked); a challenge started from a CSV file.

Screenshots go to /tmp/kanwb-class/ (look at them).
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path

from playwright.sync_api import expect

from server.config import Settings
from server.data import build_dataset

SHOTS = Path("/tmp/kanwb-class")
LAPTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SMALL_TOY = {"preset": "toy", "width": [2, 3, 1], "train_num": 200, "test_num": 200, "seed": 0}
SELECTED = re.compile(r"\bselected\b")


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _store(page, base_url, key: str, entries: dict) -> None:
    page.goto(base_url + "/favicon.svg")
    page.evaluate("([k, v]) => localStorage.setItem(k, JSON.stringify(v))", [key, entries])


def _selected(page) -> list[str]:
    return page.eval_on_selector_all("[data-edge].selected", "els => els.map(e => e.dataset.edge)")


def test_a_viewer_link_follows_the_owners_selection(screens, base_url, live_server):
    status, created = live_server.api("POST", "/api/sessions", SMALL_TOY)
    assert status == 201, created
    owner, owner_problems = screens(LAPTOP)
    _store(owner, base_url, "kanwb.sessions", {created["id"]: {**created, "title": "toy"}})
    owner.goto(base_url + created["url"])
    owner.locator('[data-edge="0,1,0"]').click()  # before the viewer opens: the snapshot has it
    expect(owner.locator('[data-edge="0,1,0"]')).to_have_class(SELECTED)

    viewer, viewer_problems = screens(PHONE)
    viewer.goto(base_url + created["viewer_url"])
    bar = viewer.locator(".classbar")
    expect(bar.locator(".follow-who")).to_have_text("Following the owner's selection")
    expect(viewer.locator('[data-edge="0,1,0"]')).to_have_class(SELECTED)
    expect(viewer.locator(".inspector h2")).to_contain_text("x_2")
    expect(viewer.locator(".candidates")).to_contain_text("the owner's screen shows the candidates")

    owner.locator('[data-edge="0,0,2"]').click()  # a focus frame moves the viewer's selection
    expect(viewer.locator('[data-edge="0,0,2"]')).to_have_class(SELECTED)
    _shot(viewer, "phone-viewer-following")

    # Looking around: the viewer's own click stops the mirroring until "Back to teacher".
    viewer.locator('[data-edge="0,1,1"]').click()
    expect(bar.locator(".follow-who")).to_have_text("Looking around on your own")
    expect(bar.get_by_role("button", name="Look around on my own")).to_have_attribute(
        "aria-pressed", "true"
    )
    owner.locator('[data-edge="0,0,1"]').click()
    expect(owner.locator('[data-edge="0,0,1"]')).to_have_class(SELECTED)
    viewer.wait_for_timeout(600)  # a focus frame would arrive well within this
    assert _selected(viewer) == ["0,1,1"]
    bar.get_by_role("button", name="Back to teacher").click()
    expect(viewer.locator('[data-edge="0,0,1"]')).to_have_class(SELECTED)
    expect(bar.locator(".follow-who")).to_have_text("Following the owner's selection")
    expect(bar.get_by_role("button", name="Back to teacher")).to_be_hidden()
    owner_problems.assert_none()
    viewer_problems.assert_none()


def test_every_dashboard_card_draws_a_mini_diagram(screens, base_url, live_server):
    status, created = live_server.api("POST", "/api/sessions", SMALL_TOY)
    assert status == 201
    status, cl = live_server.api(
        "POST", "/api/classes", {"session": created["id"]}, token=created["owner_token"]
    )
    assert status == 201, cl
    names = ["Ana", "Bo", "Cy"]
    students = {n: live_server.api("POST", "/api/classes/join", {"code": cl["code"], "name": n})[1]
                for n in names}  # fmt: skip
    teacher, problems = screens(LAPTOP)
    reads: list[float] = []  # when the dashboard read the class (monotonic seconds)
    dash_url = re.compile(rf"/api/classes/{re.escape(cl['id'])}$")
    teacher.on("request", lambda r: dash_url.search(r.url) and reads.append(time.monotonic()))
    _store(teacher, base_url, "kanwb.classes", {cl["id"]: {**cl, "session": created["id"]}})
    teacher.goto(base_url + f"/classes/{cl['id']}")
    expect(teacher.locator("[data-student]")).to_have_count(3)
    for name in names:  # no copies yet: a diagram each all the same, saying so
        mini = teacher.locator(f'[data-student="{name}"] svg.mini-diagram')
        expect(mini).to_have_attribute("aria-label", "no copy yet")
    status, _ = live_server.api(
        "POST", f"/api/classes/{cl['id']}/handout", token=cl["teacher_token"]
    )
    assert status == 200
    for name in names:  # a copy: 2x3 + 3x1 edges, 2 + 3 + 1 nodes
        card = teacher.locator(f'[data-student="{name}"]')
        expect(card.locator("svg.mini-diagram")).to_have_count(1)
        expect(card.locator("svg.mini-diagram line")).to_have_count(9)
        expect(card.locator("svg.mini-diagram circle.mini-node")).to_have_count(6)

    # Bo prunes an edge and snaps another: Bo's card marks them (the dashboard polls).
    me = live_server.api(
        "GET", f"/api/classes/{cl['id']}/me", token=students["Bo"]["student_token"]
    )[1]
    sid, tok = me["session"]["id"], me["session"]["owner_token"]
    assert live_server.api("POST", f"/api/sessions/{sid}/edges/0/1/2/prune", token=tok)[0] == 200
    r = live_server.api(
        "POST", f"/api/sessions/{sid}/edges/1/0/0/symbolic", {"name": "x"}, token=tok
    )
    assert r[0] == 200, r
    bo = teacher.locator('[data-student="Bo"] svg.mini-diagram')
    expect(bo.locator("line.mini-pruned")).to_have_count(1, timeout=20_000)
    expect(bo.locator("line.mini-sym")).to_have_count(1)
    expect(bo).to_have_attribute("aria-label", "7 spline edges, 1 symbolic, 1 pruned")
    expect(teacher.locator('[data-student="Ana"] svg.mini-diagram line.mini-pruned')).to_have_count(
        0
    )
    _shot(teacher, "teacher-dashboard-mini-diagrams")
    problems.assert_none()

    # The dashboard reads the class at a fixed 1.5 s rate: at least every 2 s.
    gaps = [b - a for a, b in zip(reads, reads[1:], strict=False)]
    assert len(gaps) >= 3, reads
    assert max(gaps) <= 2.0 and statistics.median(gaps) >= 1.4, gaps


CSV = "a,b,out\n" + "".join(
    f"{i / 50:.3f},{(i * 7 % 50) / 50:.3f},{(i / 50) * ((i * 7 % 50) / 50) + 0.123456:.6f}\n"
    for i in range(60)
)


ANSWER = "out = a*b plus the Wombat offset"


def test_a_challenge_from_a_csv_file(screens, base_url, live_server):
    teacher, problems = screens(LAPTOP)
    teacher.goto(base_url + "/join")
    teacher.get_by_role("link", name="start a challenge").click()
    form = teacher.get_by_role("form", name="start a challenge")
    form.get_by_label("a CSV file").check()
    expect(form.locator("input[name=formula]")).to_be_hidden()
    form.locator("input[name=csv]").set_input_files(
        {"name": "data.csv", "mimeType": "text/csv", "buffer": CSV.encode()}
    )
    target = form.locator("select[name=target]")
    expect(target).to_be_enabled()
    expect(target.locator("option")).to_have_text(["a", "b", "out"])
    expect(target).to_have_value("out")  # the last column, as for an upload
    form.locator("input[name=answer]").fill(ANSWER)
    form.locator("input[name=hidden]").fill("2")
    _shot(teacher, "teacher-challenge-from-csv")
    form.get_by_role("button", name="Start the challenge").click()
    expect(teacher.locator("[data-class-code]")).to_be_visible()
    cl = teacher.evaluate(
        "() => Object.values(JSON.parse(localStorage.getItem('kanwb.classes')))[0]"
    )
    status, view = live_server.api("GET", f"/api/classes/{cl['id']}", token=cl["teacher_token"])
    assert status == 200 and view["challenge"] and view["source"]["formula"] == ANSWER
    status, src = live_server.api(
        "GET", f"/api/sessions/{view['source']['id']}", token=view["source"]["owner_token"]
    )
    assert status == 200 and src["width"][0] == 2 and src["width"][1] in (2, [2, 0])
    teacher.get_by_role("button", name="Close").click()
    expect(teacher.get_by_role("button", name="Reveal")).to_be_visible()

    # A student gets a copy of the training rows; the answer and the held-out labels (the
    # split rebuilt as data.build_dataset makes it) are nowhere in their page.
    phone, phone_problems = screens(PHONE)
    phone.goto(base_url + "/join")
    phone.locator("input[name=code]").fill(cl["code"])
    phone.locator("input[name=name]").fill("Cleo")
    phone.get_by_role("button", name="Join").click()
    expect(teacher.locator('[data-student="Cleo"]')).to_be_visible()
    teacher.get_by_role("button", name="Hand out copies").click()
    expect(phone.locator(".classbar .follow-who")).to_have_text("Your own copy", timeout=15_000)
    expect(phone.locator("[data-edge]").first).to_be_visible()
    split = build_dataset(
        {"kind": "csv", "target": "out", "seed": 0, "test_fraction": 0.2}, CSV, Settings()
    )
    held = {f"{float(v):.6f}" for v in split["test_label"].flatten().tolist()}
    assert len(held) == 12
    html = phone.evaluate("() => document.documentElement.outerHTML")
    assert ANSWER not in html and not [v for v in held if v in html]
    expect(teacher.locator('[data-student="Cleo"] svg.mini-diagram line')).to_have_count(6)

    teacher.get_by_role("button", name="Reveal").click()
    expect(teacher.locator(".leaderboard .revealed")).to_contain_text("Wombat")
    expect(phone.locator(".classbar .follow-note")).to_contain_text("Wombat", timeout=5000)
    problems.assert_none()
    phone_problems.assert_none()
