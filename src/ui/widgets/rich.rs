//! A sentence of the lower layers with its quoted commands as `<code>` (`doctor::wizard::code_spans`).

use crate::doctor::wizard::code_spans;
use leptos::prelude::*;

/// `text` with each backtick-quoted part as `<code>`, and no backtick left.
pub fn rich(text: &str) -> AnyView {
    code_spans(text)
        .into_iter()
        .map(|(code, part)| {
            let part = part.to_owned();
            if code {
                view! { <code>{part}</code> }.into_any()
            } else {
                part.into_any()
            }
        })
        .collect_view()
        .into_any()
}
