//! Building blocks of the OpenAPI paths each resource module writes beside
//! its handlers, so every module says a path parameter, a JSON body or the
//! error answers the same way.

use serde_json::{json, Value};

/// The `{id}` path parameter (a string).
pub(crate) fn path_id() -> Value {
    json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}})
}

/// A string query parameter.
pub(crate) fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string"}})
}

/// A 200 answer with a JSON object.
pub(crate) fn ok(description: &str) -> Value {
    json!({"200": {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}})
}

/// `responses` with the error answers every operation may give (400, 401,
/// 403, 404, 409; 503 is added to every operation by the document).
pub(crate) fn errors(responses: Value) -> Value {
    let mut r = json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
        "409": {"$ref": "#/components/responses/Error"},
    });
    if let (Some(m), Some(o)) = (r.as_object_mut(), responses.as_object()) {
        m.extend(o.clone());
    }
    r
}

/// A required JSON request body.
pub(crate) fn body(description: &str) -> Value {
    json!({"required": true, "description": description, "content": {"application/json": {"schema": {"type": "object"}}}})
}
