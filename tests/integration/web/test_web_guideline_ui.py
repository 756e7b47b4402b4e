"""The guideline pages: Japanese first, forms with CSRF, tenant-scoped, viewers read-only."""

from __future__ import annotations

import re

from foundation_db import login
from tests.integration.web.guideline_helpers import API, PDF, create, sheet_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _new_assessment(client, user: str = "cadmin-a") -> tuple[str, str]:
    csrf = login(client, user)
    r = client.post(
        "/guideline",
        data={"title": "年次評価", "q_handles_confidential": "yes", "csrf_token": csrf},
    )
    assert r.status_code == 303, r.text
    aid = r.headers["location"].rsplit("/", 1)[1]
    return aid, csrf


def test_list_create_and_dashboard_in_japanese(client, world):
    aid, _csrf = _new_assessment(client)
    page = client.get("/guideline")
    assert page.status_code == 200
    assert "ガイドライン" in page.text and "年次評価" in page.text
    assert 'action="/guideline"' in page.text
    dash = client.get(f"/guideline/{aid}")
    assert dash.status_code == 200
    text = dash.text
    assert "レベル別の達成率" in text and "ラベル別の達成率" in text
    for lv in (1, 2, 3):
        assert f'data-level="{lv}"' in text and f'id="rate-lv{lv}"' in text
    assert text.count("<svg") >= 4  # one chart per level and the label radar
    assert "目標レベル: Lv2" in text  # from the questionnaire answer
    assert "カタログについてのお知らせ" in text and "チェックシート（Excel .xlsx）" in text
    assert f"/api/v1/guideline/assessments/{aid}/report?format=pdf" in text
    assert 'enctype="multipart/form-data"' in text
    assert "方針" in text  # label 1 in the progress table
    # nav entry and dashboard panel
    home = client.get("/")
    assert 'href="/guideline"' in home.text
    assert "ガイドライン（最新評価の Lv1 達成率" in home.text
    assert f'href="/guideline/{aid}"' in home.text and "0.0%" in home.text
    # English through the catalogue
    csrf = login(client, "cadmin-a")
    client.post("/lang", data={"lang": "en", "next": "/", "csrf_token": csrf})
    en = client.get(f"/guideline/{aid}")
    assert "Achievement per level" in en.text and "About the catalogue" in en.text


def test_questionnaire_answer_and_score_change(client, world):
    aid, csrf = _new_assessment(client)
    page = client.get(f"/guideline/{aid}/labels/1")
    assert page.status_code == 200
    assert "質問票" in page.text and 'id="label-progress"' in page.text
    for word in ("対策完了", "一部対策", "未対策", "対象外"):
        assert f'value="{word}"' in page.text
    item = re.search(r'id="item-(\d+)"', page.text).group(1)
    before = client.get(f"{API}/assessments/{aid}/score").json()["labels"]["1"]["achieved"]
    r = client.post(
        f"/guideline/{aid}/items/{item}",
        data={
            "status": "対策完了",
            "comment": "規程を整備済み",
            "owner": "総務部",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"/labels/1#item-{item}")
    after = client.get(f"{API}/assessments/{aid}/score").json()["labels"]["1"]["achieved"]
    assert after == before + 1
    page = client.get(f"/guideline/{aid}/labels/1")
    assert 'data-status="対策完了"' in page.text and "規程を整備済み" in page.text
    # 対象外 without a reason is refused on the page, in Japanese
    r = client.post(f"/guideline/{aid}/items/{item}", data={"status": "対象外", "csrf_token": csrf})
    assert r.status_code == 422 and "入力内容に誤りがあります" in r.text
    r = client.post(
        f"/guideline/{aid}/items/{item}",
        data={"status": "対象外", "reason": "該当なし", "effort_days": "abc", "csrf_token": csrf},
    )
    assert r.status_code == 422 and "abc" in r.text
    # without the CSRF token nothing changes
    r = client.post(f"/guideline/{aid}/items/{item}", data={"status": "未対策"})
    assert r.status_code == 403
    assert client.get(f"{API}/assessments/{aid}").json()["answers"][item]["status"] == "対策完了"


def test_evidence_upload_on_the_page(client, app, world):
    app.state.settings.guideline_max_evidence_bytes = 2048
    aid, csrf = _new_assessment(client)
    url = f"/guideline/{aid}/items/1/evidence"
    r = client.post(url, data={"csrf_token": csrf}, files={"file": ("手順書.pdf", PDF)})
    assert r.status_code == 303
    page = client.get(f"/guideline/{aid}/labels/1")
    assert (
        "手順書.pdf" in page.text and f"/api/v1/guideline/assessments/{aid}/evidence/" in page.text
    )
    r = client.post(
        url, data={"csrf_token": csrf}, files={"file": ("big.pdf", b"%PDF-" + b"x" * 4096)}
    )
    assert r.status_code == 413 and "ファイルが大きすぎます" in r.text and "limit" in r.text
    r = client.post(url, data={"csrf_token": csrf}, files={"file": ("a.exe", b"MZ" + b"\0" * 64)})
    assert r.status_code == 415 and "受け付けられません" in r.text


def test_import_roadmap_and_target_pages(client, world):
    aid, csrf = _new_assessment(client)
    r = client.post(
        f"/guideline/{aid}/checksheet",
        data={"csrf_token": csrf, "mapping": ""},
        files={"file": ("sheet.xlsx", sheet_bytes({1: "対策完了"}), XLSX)},
    )
    assert r.status_code == 200 and "チェックシートを取り込みました" in r.text
    assert f"/api/v1/guideline/assessments/{aid}/checksheet" in r.text
    r = client.post(
        f"/guideline/{aid}/checksheet",
        data={"csrf_token": csrf},
        files={"file": ("sheet.xlsx", sheet_bytes({}, header=False), XLSX)},
    )
    assert r.status_code == 422 and 'role="alert"' in r.text
    roadmap = client.get(f"/guideline/{aid}/roadmap")
    assert roadmap.status_code == 200 and "ロードマップ" in roadmap.text
    assert "未達成の項目" in roadmap.text
    target = client.get(f"/guideline/{aid}/target")
    assert target.status_code == 200 and "q_industry_leader" in target.text
    r = client.post(
        f"/guideline/{aid}/target", data={"q_industry_leader": "yes", "csrf_token": csrf}
    )
    assert r.status_code == 200 and "レベル3" in r.text
    assert client.get(f"{API}/assessments/{aid}").json()["target_level"] == 3


def test_viewer_sees_pages_without_forms_and_other_tenants_get_404(client, world):
    aid, _ = _new_assessment(client)
    login(client, "viewer-a")
    for path in (
        "/guideline",
        f"/guideline/{aid}",
        f"/guideline/{aid}/labels/1",
        f"/guideline/{aid}/target",
        f"/guideline/{aid}/roadmap",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert 'method="post" action="/guideline' not in r.text, path
    csrf = login(client, "viewer-a")
    r = client.post(f"/guideline/{aid}/items/1", data={"status": "未対策", "csrf_token": csrf})
    assert r.status_code == 403
    csrf = login(client, "cadmin-zzbmarker")
    for path in (
        f"/guideline/{aid}",
        f"/guideline/{aid}/labels/1",
        f"/guideline/{aid}/roadmap",
        f"/guideline/{aid}/target",
    ):
        r = client.get(path)
        assert r.status_code == 404 and "年次評価" not in r.text
    r = client.post(f"/guideline/{aid}/items/1", data={"status": "未対策", "csrf_token": csrf})
    assert r.status_code == 404
    r = client.post(
        f"/guideline/{aid}/items/1/evidence",
        data={"csrf_token": csrf},
        files={"file": ("a.pdf", PDF)},
    )
    assert r.status_code == 404
    assert "年次評価" not in client.get("/guideline").text
    # B's own list is empty; creating for tenant A is refused
    r = client.post("/guideline", data={"tenant_id": str(world.tenant_a.id), "csrf_token": csrf})
    assert r.status_code == 404


def test_operator_with_several_tenants_chooses_one(client, world):
    csrf = login(client, "root")
    r = client.post("/guideline", data={"title": "x", "csrf_token": csrf})
    assert r.status_code == 422 and "tenant" in r.text
    r = client.post("/guideline", data={"tenant_id": str(world.tenant_b.id), "csrf_token": csrf})
    assert r.status_code == 303
    headers = {"X-CSRF-Token": csrf}
    made = create(client, headers, tenant_id=world.tenant_a.id, title="A")
    assert made["tenant_id"] == world.tenant_a.id


def test_run_checks_and_history_on_pages(client, world):
    aid, csrf = _new_assessment(client)
    client.post(f"/guideline/{aid}/items/143", data={"status": "対策完了", "csrf_token": csrf})
    client.post(f"/guideline/{aid}/items/143", data={"status": "一部対策", "csrf_token": csrf})
    r = client.post(f"/guideline/{aid}/checks", data={"csrf_token": csrf})
    assert r.status_code == 200 and "自動チェックを実行しました" in r.text
    assert 'id="auto-checks"' in r.text and "不合格" in r.text
    label = client.get(f"{API}/assessments/{aid}/items").json()
    label_no = next(i["label"] for i in label["items"] if i["id"] == "143") or 0
    page = client.get(f"/guideline/{aid}/labels/{label_no}")
    assert "回答の履歴" in page.text and "対策完了 → 一部対策" in page.text
    assert "自動チェック" in page.text


def test_compare_page(client, world):
    first, csrf = _new_assessment(client)
    client.post(f"/guideline/{first}/items/1", data={"status": "未対策", "csrf_token": csrf})
    client.post(f"/guideline/{first}/items/2", data={"status": "対策完了", "csrf_token": csrf})
    later, csrf = _new_assessment(client)
    client.post(f"/guideline/{later}/items/1", data={"status": "対策完了", "csrf_token": csrf})
    client.post(f"/guideline/{later}/items/2", data={"status": "一部対策", "csrf_token": csrf})
    dash = client.get(f"/guideline/{later}")
    assert f"/guideline/{later}/compare?with={first}" in dash.text
    page = client.get(f"/guideline/{later}/compare")
    assert page.status_code == 200
    improved = page.text.split('id="cmp-improved"')[1].split("</section>")[0]
    regressed = page.text.split('id="cmp-regressed"')[1].split("</section>")[0]
    assert "改善した項目 (1)" in improved and "<td>1</td>" in improved
    assert "後退した項目 (1)" in regressed and "<td>2</td>" in regressed
    assert client.get(f"/guideline/{first}/compare").status_code == 422
    login(client, "cadmin-zzbmarker")
    assert client.get(f"/guideline/{later}/compare", params={"with": first}).status_code == 404
