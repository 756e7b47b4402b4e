"""The HTML page shown instead of blocked content (Japanese first, English below)."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from mamori.scan.verdict import Outcome, Verdict, describe

_TITLE = {
    Outcome.BLOCKED: ("危険なコンテンツをブロックしました", "Dangerous content blocked"),
    Outcome.QUARANTINED: ("安全を確認できないため隔離しました", "Content held for review"),
    Outcome.ERROR: (
        "検査できなかったためブロックしました",
        "Blocked: content could not be scanned",
    ),
    Outcome.CLEAN: ("ブロックしました", "Blocked"),
}


def render_block_page(
    verdict: Verdict,
    *,
    url: str = "",
    reference: str = "",
    contact: str = "",
) -> str:
    """A self-contained HTML page (no external resources) explaining the block."""
    ja_title, en_title = _TITLE[verdict.outcome]
    reasons_ja = "".join(f"<li>{escape(describe(r, 'ja'))}</li>" for r in verdict.reasons[:10])
    reasons_en = "".join(f"<li>{escape(describe(r, 'en'))}</li>" for r in verdict.reasons[:10])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    ref = escape(reference or verdict.sha256[:16])
    contact_ja = f"<p>お問い合わせ: {escape(contact)}</p>" if contact else ""
    contact_en = f"<p>Contact: {escape(contact)}</p>" if contact else ""
    return f"""<!DOCTYPE html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(ja_title)} / {escape(en_title)} - mamori</title>
<style>
body {{ font-family: "Hiragino Sans", "Noto Sans JP", Meiryo, sans-serif; margin: 2rem;
       color: #222; background: #f7f7f7; }}
main {{ max-width: 44rem; margin: auto; background: #fff; padding: 2rem;
        border-top: 6px solid #c0392b; }}
h1 {{ font-size: 1.4rem; color: #c0392b; }}
code {{ word-break: break-all; }}
section + section {{ margin-top: 2rem; border-top: 1px solid #ddd; padding-top: 1rem; }}
</style>
</head>
<body>
<main>
<section lang="ja">
<h1>{escape(ja_title)}</h1>
<p>アクセスしようとしたコンテンツは、セキュリティポリシーによりブロックされました。</p>
<p>URL: <code>{escape(url)}</code></p>
<ul>{reasons_ja}</ul>
<p>参照番号: <code>{ref}</code> ({when})</p>
{contact_ja}
</section>
<section lang="en">
<h1>{escape(en_title)}</h1>
<p>The content you requested was blocked by your organisation's security policy.</p>
<p>URL: <code>{escape(url)}</code></p>
<ul>{reasons_en}</ul>
<p>Reference: <code>{ref}</code> ({when})</p>
{contact_en}
</section>
</main>
</body>
</html>
"""


__all__ = ["render_block_page"]
