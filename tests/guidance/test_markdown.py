from __future__ import annotations

from guidance.markdown import render_markdown


def test_markdown_renders_emphasis_lists_and_links() -> None:
    html = render_markdown(
        "Ask for the **IBAN**.\n\n- one\n- two\n\n[Tariffs](https://example.com)"
    )
    assert "<strong>IBAN</strong>" in html
    assert "<li>one</li>" in html
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer"' in html


def test_raw_html_and_script_links_never_survive() -> None:
    html = render_markdown(
        '<script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n'
        "[click](javascript:alert(3))"
    )
    assert "<script" not in html
    assert "<img" not in html
    assert 'href="javascript' not in html  # left as plain text, never a link
