//! Native render tests of the sign-in form's messages: what a person reads when the first
//! sign-in fails (the sentences of `roost_model::human`, as the shell sends them), rendered by
//! the real `SignInForm` component to HTML.

use leptos::prelude::*;
use roost_model::human::{self, UnreachableReason};
use roost_ui::components::SignInForm;

fn render_form(server: &str, error: Option<String>) -> String {
    let server = server.to_string();
    Owner::new().with(move || {
        let error = RwSignal::new(error);
        let busy = RwSignal::new(false);
        view! {
            <SignInForm initial_server=server error busy on_submit=Callback::new(|_: (String, String)| ()) />
        }
        .to_html()
    })
}

/// The text of the `signin-error` alert, if any.
fn alert_text(html: &str) -> Option<String> {
    let start = html.find("data-testid=\"signin-error\"")?;
    let text = &html[start..];
    let text = &text[text.find('>')? + 1..];
    Some(strip_markers(&text[..text.find("</p>")?]))
}

/// Removes the comment markers Leptos may place around dynamic text (`<!>`, `<!--…-->`).
fn strip_markers(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(start) = rest.find("<!") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = if after.starts_with("<!--") {
            after.find("-->").map(|e| e + 3)
        } else {
            after.find('>').map(|e| e + 1)
        };
        match end {
            Some(end) => rest = &after[end..],
            None => return out + after,
        }
    }
    out + rest
}

/// What `&`, `'`, `<`, `>` and `"` look like after HTML escaping.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[test]
fn no_message_before_the_first_attempt() {
    let html = render_form("http://127.0.0.1:7878", None);
    assert_eq!(alert_text(&html), None);
    assert!(html.contains("data-testid=\"signin-server\""));
}

#[test]
fn an_unreachable_server_is_named_with_the_reason_in_plain_words() {
    let url = "http://127.0.0.1:9";
    for reason in UnreachableReason::ALL {
        let sentence = human::cannot_reach(url, reason);
        let html = render_form(url, Some(sentence.clone()));
        let shown = alert_text(&html).expect("an alert is shown");
        assert!(
            shown == sentence
                || shown == escaped(&sentence)
                || shown == sentence.replace('\'', "&#39;"),
            "{shown}"
        );
        assert!(
            shown.starts_with("Can") && shown.contains("reach http://127.0.0.1:9: "),
            "{shown}"
        );
        assert!(html.contains("role=\"alert\""));
    }
    let refused = alert_text(&render_form(
        url,
        Some(human::cannot_reach(
            url,
            UnreachableReason::ConnectionRefused,
        )),
    ))
    .unwrap();
    assert!(refused.contains("the connection was refused"), "{refused}");
}

#[test]
fn a_refused_token_says_so_without_protocol_words() {
    let html = render_form(
        "http://127.0.0.1:7878",
        Some(human::TOKEN_REFUSED.to_string()),
    );
    let shown = alert_text(&html).unwrap();
    assert_eq!(shown, human::TOKEN_REFUSED);
    for jargon in ["401", "unauthorized", "bearer", "server error"] {
        assert!(!shown.contains(jargon), "{shown}");
    }
}

#[test]
fn not_roost_and_other_protocol_messages_render() {
    let url = "http://127.0.0.1:8080";
    let not_roost = alert_text(&render_form(url, Some(human::not_a_roost_server(url)))).unwrap();
    assert!(not_roost.contains("not a Roost server"), "{not_roost}");
    let other = alert_text(&render_form(
        url,
        Some(human::other_protocol_version(url, 2)),
    ))
    .unwrap();
    assert!(other.contains("protocol version 2"), "{other}");
}
