//! The machine-readable contract (`openapi.json` beside PROTOCOL.md): generated from the code,
//! served at `GET /v1/openapi.json`, and complete — every error kind, and every status and kind
//! PROTOCOL.md names for a route, is in it.
//!
//! After changing a route, a handler's annotation or a wire type, rewrite the checked-in
//! document with `ROOST_BLESS=1 cargo test -p roost-server --test openapi` and commit it.

mod common;

use common::*;
use roost_proto::ErrorKind;
use roost_server::http::error::status_for_kind;
use roost_server::http::openapi::{document_json, documented_kinds};
use serde_json::Value;
use std::path::PathBuf;

fn checked_in_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json")
}

fn protocol_md() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../PROTOCOL.md");
    std::fs::read_to_string(path).expect("PROTOCOL.md")
}

fn generated() -> Value {
    serde_json::from_str(&document_json()).expect("the document is JSON")
}

#[test]
fn the_checked_in_document_is_the_one_the_code_generates() {
    let generated = document_json();
    let path = checked_in_path();
    if std::env::var_os("ROOST_BLESS").is_some_and(|value| value == "1") {
        std::fs::write(&path, &generated).expect("writing openapi.json");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        let first_difference = checked_in
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .map_or(
                checked_in.lines().count().min(generated.lines().count()),
                |line| line,
            )
            + 1;
        panic!(
            "openapi.json (at {}) differs from the document the code generates, first at line \
             {first_difference}. If the change to the API is intended, regenerate it with \
             `ROOST_BLESS=1 cargo test -p roost-server --test openapi` and commit openapi.json \
             (and say the change in PROTOCOL.md).",
            path.display()
        );
    }
}

#[tokio::test]
async fn the_server_serves_the_document_without_a_token() {
    let server = spawn_test_server().await;
    let reply = Client::anonymous(&server).get("/v1/openapi.json").await;
    assert_eq!(reply.status.as_u16(), 200);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(String::from_utf8(reply.bytes).unwrap(), document_json());
}

#[test]
fn the_document_is_openapi_3_1_with_every_route() {
    let document = generated();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
    let operations: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    for (method, path) in &operations {
        assert_ne!(
            roost_server::http::route_name(&method.parse().unwrap(), Some(path)),
            "other",
            "{method} {path} is documented but has no metrics name"
        );
    }
    assert_eq!(operations.len(), 15, "{operations:?}");
}

/// Every response of the document (operations and shared components) with its status.
fn all_responses(document: &Value) -> Vec<(String, &Value)> {
    let mut responses = Vec::new();
    for item in document["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                responses.push((status.clone(), response));
            }
        }
    }
    for response in document["components"]["responses"]
        .as_object()
        .unwrap()
        .values()
    {
        // A shared response carries its status in its single kind's mapping.
        let kind = response["content"]["application/json"]["examples"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let kind: ErrorKind = serde_json::from_value(Value::String(kind)).unwrap();
        responses.push((status_for_kind(kind).as_u16().to_string(), response));
    }
    responses
}

fn lists_kind(response: &Value, kind: &str) -> bool {
    response["content"]["application/json"]["examples"]
        .get(kind)
        .is_some_and(|example| example["value"]["error"]["kind"] == kind)
}

#[test]
fn every_error_kind_is_in_the_document_with_its_status() {
    let document = generated();
    let schema_values: Vec<&str> = document["components"]["schemas"]["ErrorKind"]["enum"]
        .as_array()
        .expect("ErrorKind is a string enum")
        .iter()
        .map(|value| value.as_str().unwrap())
        .collect();
    let responses = all_responses(&document);
    for kind in ErrorKind::SENT_BY_SERVERS {
        assert!(
            schema_values.contains(&kind.as_str()),
            "ErrorKind schema lacks {kind}"
        );
        let status = status_for_kind(kind).as_u16().to_string();
        assert!(
            responses
                .iter()
                .any(|(at, response)| *at == status && lists_kind(response, kind.as_str())),
            "no {status} response of the document lists `{kind}`"
        );
    }
}

/// `(status, kind)` rows of PROTOCOL.md's error table.
fn protocol_error_table(protocol: &str) -> Vec<(u16, String)> {
    let section = &protocol[protocol.find("\n## Errors").unwrap()..];
    let section = &section[..section[1..].find("\n## ").unwrap()];
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let status: u16 = cells.get(1)?.parse().ok()?;
            let kind = cells.get(2)?.trim_matches('`').to_owned();
            Some((status, kind))
        })
        .collect()
}

#[test]
fn every_row_of_protocol_md_error_table_is_in_the_document() {
    let document = generated();
    let rows = protocol_error_table(&protocol_md());
    assert!(rows.len() >= 15, "the error table was not found: {rows:?}");
    let responses = all_responses(&document);
    for (status, kind) in rows {
        assert!(
            responses
                .iter()
                .any(|(at, response)| *at == status.to_string() && lists_kind(response, &kind)),
            "PROTOCOL.md answers `{kind}` with {status}; the document has no such response"
        );
    }
}

/// `(method, path, section text)` of each endpoint section of PROTOCOL.md (and the stream's).
fn protocol_endpoint_sections(protocol: &str) -> Vec<(String, String, String)> {
    let mut sections = Vec::new();
    let headings: Vec<usize> = protocol
        .match_indices("\n#")
        .map(|(at, _)| at + 1)
        .collect();
    for (index, &start) in headings.iter().enumerate() {
        let end = headings.get(index + 1).copied().unwrap_or(protocol.len());
        let text = &protocol[start..end];
        let heading = text.lines().next().unwrap();
        let endpoint = if heading == "## The stream" {
            Some(("GET".to_owned(), "/v1/stream".to_owned()))
        } else {
            heading
                .strip_prefix("### `")
                .and_then(|rest| rest.split_once('`'))
                .and_then(|(endpoint, _)| endpoint.split_once(' '))
                .map(|(method, path)| (method.to_owned(), path.to_owned()))
        };
        if let Some((method, path)) = endpoint {
            sections.push((method, path, text.to_owned()));
        }
    }
    sections
}

/// Statuses in code spans (`` `409 idempotency_key_reused` ``, `` `201 MessageResponse` ``,
/// `` `204` ``) with the error kind when one follows.
fn statuses_named(text: &str) -> Vec<(u16, Option<String>)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let mut words = span.split_whitespace();
            let status: u16 = words.next()?.parse().ok()?;
            if !(100..600).contains(&status) {
                return None;
            }
            let kind = words
                .next()
                .filter(|word| word.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                .map(str::to_owned);
            Some((status, kind))
        })
        .collect()
}

#[test]
fn every_status_protocol_md_names_for_a_route_is_documented_for_it() {
    let document = generated();
    let sections = protocol_endpoint_sections(&protocol_md());
    assert!(
        sections.len() >= 15,
        "endpoint sections of PROTOCOL.md: {}",
        sections.len()
    );
    let mut checked = 0;
    for (method, path, text) in sections {
        for (status, kind) in statuses_named(&text) {
            let kinds = documented_kinds(&document, &method, &path, status).unwrap_or_else(|| {
                panic!(
                    "PROTOCOL.md: {method} {path} answers {status}; the document does not say so"
                )
            });
            if let Some(kind) = kind {
                assert!(
                    kinds.contains(&kind),
                    "PROTOCOL.md: {method} {path} answers {status} `{kind}`; the document lists {kinds:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "only {checked} statuses found in PROTOCOL.md"
    );
}
