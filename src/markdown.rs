//! Markdown the board writes (event descriptions, announcements), rendered
//! once when it is saved and sanitised: no script, no event handler, no
//! `javascript:` link survives, whatever was typed.

use pulldown_cmark::{html, Options, Parser};

/// Safe HTML for `markdown`.
pub fn to_safe_html(markdown: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TABLES);
    let mut unsafe_html = String::new();
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options));
    // ammonia keeps formatting and links (http, https, mailto and the like),
    // drops every other tag, attribute and URL scheme, and marks links
    // `rel="noopener noreferrer"`.
    ammonia::clean(&unsafe_html)
}

#[cfg(test)]
mod tests {
    use super::to_safe_html;

    #[test]
    fn formatting_and_links_are_kept() {
        let html = to_safe_html("**Reunion** in [Baku](https://example.org/baku)\n\n- one\n- two");
        assert!(html.contains("<strong>Reunion</strong>"), "{html}");
        assert!(html.contains(r#"href="https://example.org/baku""#), "{html}");
        assert!(html.contains("<li>two</li>"), "{html}");
    }

    #[test]
    fn scripts_handlers_and_javascript_links_are_removed() {
        for markdown in [
            "<script>alert(1)</script>",
            "[click](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<img src=x onerror=alert(1)>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "[x](JaVaScRiPt:alert(1))",
            "<svg><script>alert(1)</script></svg>",
        ] {
            let html = to_safe_html(markdown).to_lowercase();
            for bad in ["<script", "javascript:", "onerror", "<iframe", "alert(1)</script"] {
                assert!(!html.contains(bad), "{markdown:?} gave {html:?}");
            }
        }
    }
}
