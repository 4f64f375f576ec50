//! The machine-readable contract: the OpenAPI 3.1 document of the `/v1/` API, generated from
//! the handlers' `#[utoipa::path]` annotations and the wire types of `roost_proto` (feature
//! `openapi`), served at `GET /v1/openapi.json` and checked in as `openapi.json` beside
//! `PROTOCOL.md` (`tests/openapi.rs` fails when the two drift; `ROOST_BLESS=1` rewrites it).
//!
//! Routes are registered through [`api_routes`] with `utoipa_axum::routes!`, which takes each
//! route's path and methods from its annotation: a route cannot be served without being in the
//! document, nor documented at another path than it is served.
//!
//! The error answers are not repeated on every handler: [`ROUTE_ERRORS`] lists the error kinds
//! each operation may answer, and [`finish`] turns them into responses (status from
//! [`status_for_kind`], the [`ErrorBody`] schema, one example per kind, `WWW-Authenticate` /
//! `Retry-After` headers), so a kind's status is stated once, in code.

use crate::http::AppState;
use crate::http::error::status_for_kind;
use crate::http::{digests, handlers, stream};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use roost_proto::{ErrorBody, ErrorKind, StreamEvent};
use std::collections::BTreeMap;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa::openapi::example::ExampleBuilder;
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, Object, Ref, RefOr, ResponseBuilder, Type};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The name of the bearer-token security scheme.
const BEARER: &str = "bearer";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Roost protocol",
        description = "The Roost sync server's HTTP API (protocol v1). PROTOCOL.md describes the \
            same contract in prose: guarantees, check order, the stream's frames and limits.",
        license(name = "MIT OR Apache-2.0")
    ),
    components(schemas(ErrorBody, ErrorKind, StreamEvent))
)]
struct ApiDoc;

/// Every `/v1/` route with its OpenAPI operation. Add routes here, never with `Router::route`.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(handlers::health))
        .routes(routes!(openapi_json))
        .routes(routes!(handlers::me))
        .routes(routes!(handlers::list_chats, handlers::create_chat))
        .routes(routes!(handlers::get_chat))
        .routes(routes!(handlers::get_messages, handlers::send_message))
        .routes(routes!(handlers::edit_message, handlers::delete_message))
        .routes(routes!(handlers::get_changes))
        .routes(routes!(digests::get_digests))
        .routes(routes!(handlers::add_members))
        .routes(routes!(handlers::remove_member))
        .routes(routes!(stream::stream_handler))
}

/// The complete document, as served and checked in.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut document = api_routes().into_openapi();
    finish(&mut document);
    document
}

/// The document as pretty JSON with a final newline: the bytes of `openapi.json`.
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("an OpenAPI document always serialises");
    text.push('\n');
    text
}

/// `GET /v1/openapi.json`: this API's OpenAPI 3.1 document (the checked-in `openapi.json`).
#[utoipa::path(get, path = "/v1/openapi.json", responses(
    (status = 200, description = "The OpenAPI 3.1 document of this API", content_type = "application/json", body = Object)
))]
pub(crate) async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(document_json).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// Operations answered without a bearer token.
const PUBLIC_OPERATIONS: &[&str] = &["health", "openapi_json"];

/// Kinds every operation may answer: the server at capacity or out of time, and a fault.
const EVERY_OPERATION: &[ErrorKind] = &[ErrorKind::Overloaded, ErrorKind::Internal];
/// Kinds every operation that needs a token may answer besides [`EVERY_OPERATION`].
const AUTHENTICATED: &[ErrorKind] = &[ErrorKind::Unauthorized, ErrorKind::RateLimited];

const JSON_BODY: &[ErrorKind] = &[
    ErrorKind::BadRequest,
    ErrorKind::InvalidJson,
    ErrorKind::UnsupportedMediaType,
    ErrorKind::PayloadTooLarge,
];

/// The refusals of each operation (by operation id, the handler's name) beyond the shared
/// ones. `tests/fuzz_parsers.rs` checks the server's answers against the resulting document.
pub const ROUTE_ERRORS: &[(&str, &[ErrorKind])] = &[
    ("health", &[]),
    ("openapi_json", &[]),
    ("me", &[]),
    (
        "list_chats",
        &[ErrorKind::BadRequest, ErrorKind::PageSizeTooLarge],
    ),
    ("create_chat", &[ErrorKind::TooManyMembers]),
    ("get_chat", &[ErrorKind::BadRequest, ErrorKind::NotFound]),
    (
        "get_messages",
        &[
            ErrorKind::BadRequest,
            ErrorKind::PageSizeTooLarge,
            ErrorKind::NotFound,
        ],
    ),
    (
        "send_message",
        &[ErrorKind::NotFound, ErrorKind::IdempotencyKeyReused],
    ),
    (
        "edit_message",
        &[
            ErrorKind::NotFound,
            ErrorKind::Forbidden,
            ErrorKind::VersionConflict,
        ],
    ),
    (
        "delete_message",
        &[
            ErrorKind::BadRequest,
            ErrorKind::NotFound,
            ErrorKind::Forbidden,
        ],
    ),
    (
        "get_changes",
        &[
            ErrorKind::BadRequest,
            ErrorKind::PageSizeTooLarge,
            ErrorKind::NotFound,
        ],
    ),
    ("get_digests", &[ErrorKind::BadRequest, ErrorKind::NotFound]),
    (
        "add_members",
        &[ErrorKind::NotFound, ErrorKind::TooManyMembers],
    ),
    (
        "remove_member",
        &[
            ErrorKind::BadRequest,
            ErrorKind::NotFound,
            ErrorKind::Forbidden,
        ],
    ),
    ("stream_handler", &[ErrorKind::BadRequest]),
];

/// Operations that read a JSON body (and so may refuse it as such).
const BODY_OPERATIONS: &[&str] = &["create_chat", "send_message", "edit_message", "add_members"];

/// Operations whose success answers carry `x-roost-message-count`.
const COUNTED_OPERATIONS: &[&str] = &[
    "get_messages",
    "send_message",
    "edit_message",
    "delete_message",
    "get_changes",
];

/// Every error kind an operation may answer, in a stable order.
pub fn operation_errors(operation_id: &str) -> Vec<ErrorKind> {
    let mut kinds: Vec<ErrorKind> = EVERY_OPERATION.to_vec();
    if !PUBLIC_OPERATIONS.contains(&operation_id) {
        kinds.extend_from_slice(AUTHENTICATED);
    }
    if BODY_OPERATIONS.contains(&operation_id) {
        kinds.extend_from_slice(JSON_BODY);
    }
    if let Some((_, route)) = ROUTE_ERRORS.iter().find(|(id, _)| *id == operation_id) {
        kinds.extend_from_slice(route);
    }
    let mut unique = Vec::new();
    for kind in kinds {
        if !unique.contains(&kind) {
            unique.push(kind);
        }
    }
    unique
}

/// When a kind is answered (the `message` of its example; PROTOCOL.md's error table in short).
fn kind_example_message(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => {
            "a parameter, path id or body field is missing, malformed, out of range or contradicts another"
        }
        ErrorKind::InvalidJson => "the body is not JSON of the expected shape",
        ErrorKind::UnsupportedMediaType => {
            "the body must be sent as Content-Type: application/json"
        }
        ErrorKind::PageSizeTooLarge => "limit 501 is over the cap of 500",
        ErrorKind::PayloadTooLarge => "the request body or the message body is over its cap",
        ErrorKind::Unauthorized => "missing or invalid bearer token",
        ErrorKind::NotFound => "chat not found",
        ErrorKind::MethodNotAllowed => "method not allowed on this route",
        ErrorKind::Forbidden => "only the author may change this message",
        ErrorKind::VersionConflict => "expected_version differs, or the message is deleted",
        ErrorKind::IdempotencyKeyReused => "the key was used for a different chat or body",
        ErrorKind::TooManyMembers => "the chat would be over the server's member limit",
        ErrorKind::RateLimited => "too many requests or streams for this token; see Retry-After",
        ErrorKind::Overloaded => "the server is at capacity or ran out of time; see Retry-After",
        ErrorKind::Internal | ErrorKind::Unknown => {
            "internal server error; the request had no effect"
        }
    }
}

/// One error response: its status's kinds as examples of the [`ErrorBody`] schema.
fn error_response(kinds: &[ErrorKind]) -> utoipa::openapi::Response {
    let names: Vec<String> = kinds.iter().map(|kind| format!("`{kind}`")).collect();
    let examples = kinds.iter().map(|kind| {
        let body =
            serde_json::json!({"error": {"kind": kind, "message": kind_example_message(*kind)}});
        (
            kind.as_str(),
            ExampleBuilder::new().value(Some(body)).build(),
        )
    });
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .examples_from_iter(examples)
        .build();
    let mut response = ResponseBuilder::new()
        .description(format!("Error: {}", names.join(", ")))
        .content("application/json", content);
    if kinds.contains(&ErrorKind::Unauthorized) {
        response = response.header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(Object::with_type(Type::String))
                .description(Some("`Bearer`"))
                .build(),
        );
    }
    if kinds.contains(&ErrorKind::RateLimited) || kinds.contains(&ErrorKind::Overloaded) {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Object::with_type(Type::Integer))
                .description(Some(
                    "Seconds to wait before retrying (`rate_limited`, `overloaded`)",
                ))
                .build(),
        );
    }
    response.build()
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// Adds what the annotations leave out: the bearer scheme, each operation's error responses,
/// the public operations' empty security, the message-count header, and the answers that
/// belong to no operation (unknown routes, wrong methods).
fn finish(document: &mut utoipa::openapi::OpenApi) {
    for item in document.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            let id = operation.operation_id.clone().unwrap_or_default();
            if PUBLIC_OPERATIONS.contains(&id.as_str()) {
                operation.security = Some(Vec::new());
            }
            let mut by_status: BTreeMap<u16, Vec<ErrorKind>> = BTreeMap::new();
            for kind in operation_errors(&id) {
                by_status
                    .entry(status_for_kind(kind).as_u16())
                    .or_default()
                    .push(kind);
            }
            for (status, kinds) in by_status {
                operation
                    .responses
                    .responses
                    .insert(status.to_string(), RefOr::T(error_response(&kinds)));
            }
            if COUNTED_OPERATIONS.contains(&id.as_str()) {
                add_message_count_header(operation);
            }
        }
    }
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components.responses.insert(
        "RouteNotFound".into(),
        RefOr::T(with_description(
            error_response(&[ErrorKind::NotFound]),
            "Any path that is no route of this API (`not_found`)",
        )),
    );
    components.responses.insert(
        "MethodNotAllowed".into(),
        RefOr::T(with_description(
            error_response(&[ErrorKind::MethodNotAllowed]),
            "A route of this API with a method it does not serve (`method_not_allowed`)",
        )),
    );
    document.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
}

fn with_description(
    mut response: utoipa::openapi::Response,
    description: &str,
) -> utoipa::openapi::Response {
    response.description = description.to_owned();
    response
}

fn add_message_count_header(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                crate::http::extract::MESSAGE_COUNT_HEADER.to_owned(),
                HeaderBuilder::new()
                    .schema(Object::with_type(Type::Integer))
                    .description(Some("How many messages the answer carries"))
                    .build(),
            );
        }
    }
}

/// The error kinds a document (as JSON) lists for `method path` under `status` — the names of
/// that response's examples; `None` when the operation or the status is not documented. For
/// tests that hold the server's answers against the document.
pub fn documented_kinds(
    document: &serde_json::Value,
    method: &str,
    path: &str,
    status: u16,
) -> Option<Vec<String>> {
    let response = document
        .get("paths")?
        .get(path)?
        .get(method.to_ascii_lowercase())?
        .get("responses")?
        .get(status.to_string())?;
    Some(
        response
            .pointer("/content/application~1json/examples")
            .and_then(|examples| examples.as_object())
            .map(|examples| examples.keys().cloned().collect())
            .unwrap_or_default(),
    )
}
