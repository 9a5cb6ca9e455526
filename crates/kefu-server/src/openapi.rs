//! The OpenAPI 3.1 document, written by hand next to the handlers it
//! describes (a test checks every documented path is routed).

use axum::Json;
use serde_json::{json, Value};

/// `GET /api/openapi.json`.
pub async fn document() -> Json<Value> {
    Json(spec())
}

fn error_responses() -> Value {
    json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
    })
}

fn with_errors(ok: Value) -> Value {
    let mut r = error_responses();
    if let (Some(map), Some(ok)) = (r.as_object_mut(), ok.as_object()) {
        for (k, v) in ok {
            map.insert(k.clone(), v.clone());
        }
    }
    r
}

fn page_params() -> Value {
    json!([
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}
    ])
}

/// The document.
pub fn spec() -> Value {
    let mut list_params = page_params();
    if let Some(arr) = list_params.as_array_mut() {
        for (name, ty, desc) in [
            ("agent", "string", "agent id"),
            (
                "from",
                "string",
                "start time or date (inclusive), RFC 3339 or YYYY-MM-DD in China time",
            ),
            ("to", "string", "end time or date (exclusive)"),
            ("passed", "boolean", "only passed or failed conversations"),
            (
                "rule",
                "string",
                "only conversations with a finding of this rule id",
            ),
            ("min_score", "number", "score at least"),
            ("max_score", "number", "score at most"),
        ] {
            arr.push(
                json!({"name": name, "in": "query", "description": desc, "schema": {"type": ty}}),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kefu API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Customer-service quality inspection: conversations, inspection results, complaints. \
                            Authenticate with `Authorization: Bearer <token>` (a session token from /auth/login or an API token). \
                            Errors always have the shape {\"error\":{\"code\":…,\"message\":…}}."
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {
                "summary": "Liveness and database check", "security": [],
                "responses": {"200": {"description": "up", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }},
            "/api/v1/auth/login": {"post": {
                "summary": "Log in with a password; returns a session token", "security": [],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["user", "password"],
                    "properties": {"user": {"type": "string"}, "password": {"type": "string"}}}}}},
                "responses": with_errors(json!({"200": {"description": "session", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"token": {"type": "string"}, "expires_at": {"type": "string"}, "user": {"type": "object"}}}}}}}))
            }},
            "/api/v1/auth/logout": {"post": {
                "summary": "End the current session",
                "responses": with_errors(json!({"200": {"description": "ended"}}))
            }},
            "/api/v1/me": {"get": {
                "summary": "Who the caller is",
                "responses": with_errors(json!({"200": {"description": "the caller", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }},
            "/api/v1/conversations": {
                "post": {
                    "summary": "Store and inspect one conversation (object) or a batch (array), idempotent by id",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {
                        "oneOf": [{"$ref": "#/components/schemas/Conversation"},
                                  {"type": "array", "items": {"$ref": "#/components/schemas/Conversation"}}]}}}},
                    "responses": with_errors(json!({"200": {"description": "stored", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "stored": {"type": "integer"}, "skipped": {"type": "integer"},
                            "results": {"type": "array", "items": {"type": "object"}},
                            "errors": {"type": "array", "items": {"type": "object", "properties": {"index": {"type": "integer"}, "message": {"type": "string"}}}}}}}}}}))
                },
                "get": {
                    "summary": "Current inspection results, newest first; agents see only their own",
                    "parameters": list_params,
                    "responses": with_errors(json!({"200": {"description": "a page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}}))
                }
            },
            "/api/v1/conversations/{id}": {"get": {
                "summary": "A conversation, its current result and the history of results",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_errors(json!({"200": {"description": "the conversation", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }},
            "/api/v1/packs": {"get": {
                "summary": "Rule-pack versions that produced stored results",
                "responses": with_errors(json!({"200": {"description": "versions", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                    "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Page": {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"type": "object"}},
                    "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"}}},
                "Turn": {"type": "object", "required": ["role"], "properties": {
                    "role": {"type": "string", "enum": ["agent", "customer", "system"]},
                    "text": {"type": "string"},
                    "start_ms": {"type": "integer", "minimum": 0}, "end_ms": {"type": "integer", "minimum": 0}}},
                "Conversation": {"type": "object", "required": ["id", "channel"], "properties": {
                    "id": {"type": "string"}, "channel": {"type": "string", "enum": ["phone", "chat"]},
                    "agent_id": {"type": "string"}, "agent_name": {"type": "string"},
                    "customer_id": {"type": "string"}, "customer_name": {"type": "string"},
                    "started_at": {"type": "string", "format": "date-time"},
                    "wait_ms": {"type": "integer", "minimum": 0},
                    "ended_by": {"type": "string", "enum": ["agent", "customer", "system"]},
                    "turns": {"type": "array", "items": {"$ref": "#/components/schemas/Turn"}}}}
            }
        }
    })
}
