//! The OpenAPI 3.1 document, written by hand next to the handlers it
//! describes (a test checks every documented path is routed).

use axum::Json;
use serde_json::{json, Value};

/// `GET /api/openapi.json`.
pub(crate) async fn document() -> Json<Value> {
    Json(spec())
}

fn error_responses() -> Value {
    json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"},
        "404": {"$ref": "#/components/responses/Error"},
        "503": {"$ref": "#/components/responses/Busy"},
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
        {"name": "cursor", "in": "query", "description": "keyset pagination: the `next` of the previous page (opaque); pages then never repeat or skip rows while rows are added, and cost the same at any depth. Takes precedence over `page`", "schema": {"type": "string"}},
        {"name": "page", "in": "query", "description": "page number (offset pagination, kept for old clients; slower deep down, prefer `cursor`)", "schema": {"type": "integer", "minimum": 1, "default": 1}},
        {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 50}}
    ])
}

/// The document.
pub(crate) fn spec() -> Value {
    let mut doc = base_spec();
    // Each resource documents its own paths beside its handlers.
    for more in [
        quality_paths(),
        crate::api_customers::openapi_paths(),
        crate::api_feedback::openapi_paths(),
        crate::api_handover::openapi_paths(),
        crate::api::mystery::openapi_paths(),
    ] {
        if let (Some(paths), Value::Object(more)) = (doc["paths"].as_object_mut(), more) {
            paths.extend(more);
        }
    }
    if let (Some(paths), Value::Object(more)) = (
        doc["paths"].as_object_mut(),
        crate::api_notifications::openapi_paths(),
    ) {
        paths.extend(more);
    }
    busy_everywhere(&mut doc);
    doc
}

/// Every operation can meet a busy database (503 with `Retry-After`), so the
/// answer is added to operations whose own responses do not list it.
fn busy_everywhere(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for op in ops.values_mut() {
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses
                    .entry("503")
                    .or_insert_with(|| json!({"$ref": "#/components/responses/Busy"}));
            }
        }
    }
}

fn base_spec() -> Value {
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
            ("channel", "string", "phone or chat"),
            ("team", "string", "agents of this team"),
            (
                "pack_version",
                "integer",
                "results produced by this pack version",
            ),
            (
                "reviewed",
                "boolean",
                "reviewed by a person (true) or not yet (false)",
            ),
            (
                "q",
                "string",
                "full-text search of the transcripts; space-separated terms must all occur",
            ),
        ] {
            arr.push(
                json!({"name": name, "in": "query", "description": desc, "schema": {"type": ty}}),
            );
        }
    }
    let mut complaint_params = page_params();
    if let Some(arr) = complaint_params.as_array_mut() {
        for (name, ty, desc) in [
            ("state", "string", "comma-separated states: accepted, investigating, handling, awaiting_follow_up, closed"),
            ("assignee", "string", "assigned agent id"),
            ("group", "string", "assigned group"),
            ("unassigned", "boolean", "only unassigned"),
            ("from", "string", "opened at or after"),
            ("to", "string", "opened before"),
            ("special", "boolean", "特殊疑难 only (true) or not (false)"),
            ("priority", "string", "low, normal, high, urgent"),
            ("sla", "string", "breached, near_breach, at_risk, paused"),
            ("claimable", "boolean", "agents: complaints they may claim"),
        ] {
            arr.push(json!({"name": name, "in": "query", "description": desc, "schema": {"type": ty}}));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "kefu API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Customer-service quality inspection: conversations, inspection results, complaints. \
                            Authenticate with `Authorization: Bearer <token>` (a session token from /auth/login or an API token). \
                            Errors always have the shape {\"error\":{\"code\":…,\"message\":…}}. \
                            Times: every timestamp in a response is RFC 3339 text (schema `Time`): UTC with `Z` for times kefu records \
                            (created_at, decided_at, …), the original offset for a conversation's `started_at`; requests accept RFC 3339 \
                            (and, for filters, YYYY-MM-DD in China time). \
                            Durations: one text form (schema `Duration`), numbers with units from largest to smallest — `d`, `h`, `m`, `s`, `ms` \
                            (e.g. `12h`, `1h30m`, `2m28s`), read and written by SLA settings and clocks. The only numeric durations are \
                            fields whose name ends in their unit — `_ms` (turn offsets, `wait_ms` in the conversation format) or `_s` \
                            (quality settings) — kept as numbers because they are measurements in the input format."
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
                    "type": "object", "properties": {"token": {"type": "string"}, "expires_at": {"$ref": "#/components/schemas/Time"}, "user": {"type": "object"}}}}}},
                    "429": {"$ref": "#/components/responses/TooManyRequests"}}))
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
                    "responses": with_errors(json!({"201": {"description": "stored (at least one new); Location names a single conversation",
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "/api/v1/conversations/{id} (single object only)"}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoreResult"}}}},
                        "200": {"description": "nothing new: every id was already stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoreResult"}}}}}))
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
            "/api/v1/complaints": {
                "post": {
                    "summary": "Open a complaint (投诉工单), by hand or from a conversation",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewComplaint"}}}},
                    "responses": with_errors(json!({"201": {"description": "the complaint",
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "/api/v1/complaints/{id}"}},
                        "content": {"application/json": {"schema": {"type": "object"}}}}}))
                },
                "get": {
                    "summary": "Complaints; agents see their own",
                    "parameters": complaint_params,
                    "responses": with_errors(json!({"200": {"description": "a page", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Page"}}}}}))
                }
            },
            "/api/v1/complaints/{id}": {"get": {
                "summary": "A complaint with its SLA clocks and history (personal data masked per role)",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": with_errors(json!({"200": {"description": "the complaint", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }},
            "/api/v1/complaints/{id}/commands": {"post": {
                "summary": "Move a complaint on: investigate, start_handling, reply, wait_on_customer, customer_responded, resolve, request_follow_up, close, reopen, assign, set_priority, mark_special, set_category, add_key_fact, add_note, record_survey",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["command"],
                    "properties": {"version": {"type": "integer", "description": "the version last seen; a concurrent change answers 409"},
                                   "command": {"type": "object", "required": ["type"], "properties": {"type": {"type": "string"}}}}}}}},
                "responses": with_errors(json!({"200": {"description": "the complaint", "content": {"application/json": {"schema": {"type": "object"}}}},
                                                 "409": {"$ref": "#/components/responses/Error"}, "422": {"$ref": "#/components/responses/Error"}}))
            }},
            "/api/v1/revisits/overdue": {"get": {
                "summary": "Revisit tasks (回访) past their due date",
                "responses": with_errors(json!({"200": {"description": "tasks", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }},
            "/api/v1/revisits/{id}/complete": {"post": {
                "summary": "Record a revisit's outcome",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["outcome_kind"],
                    "properties": {"outcome_kind": {"type": "string", "enum": ["resolved", "still_unsatisfied", "unreachable"]}, "outcome": {"type": "string"}}}}}},
                "responses": with_errors(json!({"200": {"description": "the task", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }},
            "/api/v1/settings/sla": {
                "get": {"summary": "SLA targets, business hours, holidays",
                        "responses": with_errors(json!({"200": {"description": "settings", "content": {"application/json": {"schema": {"type": "object"}}}}}))},
                "put": {"summary": "Change SLA settings (supervisors and admins)",
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                        "responses": with_errors(json!({"200": {"description": "saved", "content": {"application/json": {"schema": {"type": "object"}}}}}))}
            },
            "/api/v1/reports/sla": {"get": {
                "summary": "SLA met-rate per agent or team, with the complaint ids behind each number",
                "parameters": [
                    {"name": "period", "in": "query", "schema": {"type": "string"}, "description": "2026-10, 2026-Q4, 2026-W40, 2026 or 2026-10-01..2026-10-07 (China time); not with from/to"},
                    {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "default: 30 days ago"},
                    {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "default: now"},
                    {"name": "by", "in": "query", "schema": {"type": "string", "enum": ["agent", "team"]}}],
                "responses": with_errors(json!({"200": {"description": "report", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }},
            "/api/v1/packs": {"get": {
                "summary": "Rule-pack versions that produced stored results",
                "responses": with_errors(json!({"200": {"description": "versions", "content": {"application/json": {"schema": {"type": "object"}}}}}))
            }}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "Busy": {"description": "the database is busy with other writers (code `busy`); nothing was changed: retry after the given seconds",
                    "headers": {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer", "minimum": 1}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "TooManyRequests": {"description": "too many failed sign-ins for this user or address (code `too_many_requests`): retry after the given seconds",
                    "headers": {"Retry-After": {"description": "seconds until sign-in is allowed again", "schema": {"type": "integer", "minimum": 1}}},
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                    "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}},
                "Page": {"type": "object", "properties": {
                    "items": {"type": "array", "items": {"type": "object"}},
                    "page": {"type": "integer"}, "per_page": {"type": "integer"},
                    "total": {"type": "integer", "description": "how many match; exact unless total_estimated"},
                    "total_estimated": {"type": "boolean", "description": "true when counting stopped at 1,000 matches: total is then a lower bound (at least this many), not an exact count"},
                    "next": {"type": ["string", "null"], "description": "cursor of the next page (pass as `cursor`); null on the last page"}}},
                "StoreResult": {"type": "object", "properties": {
                    "stored": {"type": "integer"}, "skipped": {"type": "integer"},
                    "results": {"type": "array", "items": {"type": "object"}},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"index": {"type": "integer"}, "message": {"type": "string"}}}}}},
                "NewComplaint": {"type": "object", "required": ["customer", "channel", "category", "description"], "properties": {
                    "id": {"type": "string", "description": "optional; absent or empty: generated"},
                    "conversation_id": {"type": "string"},
                    "customer": {"type": "object", "required": ["name"], "properties": {
                        "id": {"type": "string"}, "name": {"type": "string"}, "phone": {"type": "string"}, "id_number": {"type": "string"}}},
                    "channel": {"type": "string"}, "category": {"type": "string"}, "description": {"type": "string"},
                    "key_facts": {"type": "array", "items": {"type": "object"}},
                    "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
                    "special": {"type": "boolean"},
                    "assignee": {"type": "object", "properties": {"kind": {"type": "string", "enum": ["agent", "group"]}, "id": {"type": "string"}}}}},
                "FileImport": {"type": "object", "properties": {
                    "file": {"type": "string"}, "format": {"type": "string", "enum": ["native", "aliyun", "tencent", "huawei", "amazon", "csv", "chatlog", "complaints"]},
                    "encoding": {"type": "string", "description": "complaints: the text encoding read (UTF-8, GB18030, UTF-16, XLSX)"},
                    "stored": {"type": "integer"}, "skipped": {"type": "integer"}, "error_count": {"type": "integer"},
                    "errors": {"type": "array", "items": {"type": "object", "properties": {"line": {"type": "integer"}, "message": {"type": "string"}}}},
                    "without_agent": {"type": "integer"}, "without_started_at": {"type": "integer"}}},
                "Time": {"type": "string", "format": "date-time",
                         "description": "RFC 3339, e.g. 2026-11-20T08:37:22Z or 2026-11-20T16:37:22.123+08:00; never Unix milliseconds",
                         "examples": ["2026-11-20T08:37:22Z"]},
                "Duration": {"type": "string", "pattern": "^([0-9]+(d|h|m|s|ms|us|ns))+$",
                             "description": "a duration as numbers with units, largest first: 12h, 1h30m, 2m28s, 0s",
                             "examples": ["1h30m"]},
                "Turn": {"type": "object", "required": ["role"], "properties": {
                    "role": {"type": "string", "enum": ["agent", "customer", "system"]},
                    "text": {"type": "string"},
                    "start_ms": {"type": "integer", "minimum": 0}, "end_ms": {"type": "integer", "minimum": 0}}},
                "Conversation": {"type": "object", "required": ["channel"], "properties": {
                    "id": {"type": "string", "description": "optional; absent: conv- and 16 hex digits of the record's SHA-256, so a repeat is still skipped"}, "channel": {"type": "string", "enum": ["phone", "chat"]},
                    "agent_id": {"type": "string"}, "agent_name": {"type": "string"},
                    "customer_id": {"type": "string"}, "customer_name": {"type": "string"},
                    "started_at": {"$ref": "#/components/schemas/Time"},
                    "wait_ms": {"type": "integer", "minimum": 0},
                    "ended_by": {"type": "string", "enum": ["agent", "customer", "system"]},
                    "turns": {"type": "array", "items": {"$ref": "#/components/schemas/Turn"}}}}
            }
        }
    })
}

fn obj(description: &str) -> Value {
    json!({"200": {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}})
}

fn period_param() -> Value {
    json!({"name": "period", "in": "query", "required": true,
           "description": "2026-10 (month), 2026-Q4, 2026-W44, 2026-10-05, 2026 or 2026-10-01..2026-10-15",
           "schema": {"type": "string"}})
}

fn report_params() -> Value {
    json!([period_param(),
        {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"]}},
        {"name": "lang", "in": "query", "schema": {"type": "string", "enum": ["zh", "en"]}}])
}

/// Review, appeals, queues, KPI reports, ratings and assessments.
fn quality_paths() -> Value {
    let id = super::doc::path_id();
    let num_id =
        json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    json!({
        "/api/v1/conversations/{id}/review": {
            "get": {"summary": "The automatic result, the review, the effective findings (keys auto:N, added:N, manual:RULE) and appeals",
                    "parameters": [id], "responses": with_errors(obj("review view"))},
            "put": {"summary": "Save a review (inspectors, supervisors, admins): confirm/overturn findings, score manual items, add findings",
                    "parameters": [id],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "properties": {
                        "version": {"type": "integer", "description": "the review version edited; absent for a first review"},
                        "decisions": {"type": "array", "items": {"type": "object", "required": ["key", "verdict"], "properties": {
                            "key": {"type": "string"}, "verdict": {"type": "string", "enum": ["confirm", "overturn"]}, "comment": {"type": "string"}}}},
                        "manual": {"type": "array", "items": {"type": "object", "required": ["rule", "deduction"], "properties": {
                            "rule": {"type": "string"}, "deduction": {"type": "number"}, "comment": {"type": "string"}}}},
                        "added": {"type": "array", "items": {"type": "object", "required": ["rule", "comment"], "properties": {
                            "rule": {"type": "string"}, "turn": {"type": "integer"}, "text": {"type": "string"},
                            "deduction": {"type": "number"}, "comment": {"type": "string"}}}},
                        "comment": {"type": "string"}}}}}},
                    "responses": with_errors(obj("the recomputed review view"))}
        },
        "/api/v1/conversations/{id}/appeals": {"post": {
            "summary": "Appeal one finding (the conversation's agent)",
            "parameters": [id],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["finding", "reason"],
                "properties": {"finding": {"type": "string"}, "reason": {"type": "string"}}}}}},
            "responses": with_errors(json!({"201": {"description": "the appeal"}}))
        }},
        "/api/v1/appeals": {"get": {
            "summary": "Appeals, newest first (agents: their own)",
            "parameters": [{"name": "state", "in": "query", "schema": {"type": "string", "enum": ["open", "accepted", "rejected"]}}],
            "responses": with_errors(obj("appeals"))
        }},
        "/api/v1/appeals/{id}": {"get": {
            "summary": "An appeal and its audit trail", "parameters": [num_id],
            "responses": with_errors(obj("appeal"))
        }},
        "/api/v1/appeals/{id}/decision": {"post": {
            "summary": "Accept (the finding is withdrawn) or reject an appeal (supervisors, admins; not the reviewing inspector)",
            "parameters": [num_id],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["decision", "comment"],
                "properties": {"decision": {"type": "string", "enum": ["accept", "reject"]}, "comment": {"type": "string"}}}}}},
            "responses": with_errors(obj("the decided appeal"))
        }},
        "/api/v1/review-queue": {
            "get": {"summary": "Results to review, vetoes first",
                    "parameters": [{"name": "open", "in": "query", "schema": {"type": "boolean"}},
                                   {"name": "agent", "in": "query", "schema": {"type": "string"}}],
                    "responses": with_errors(obj("queue"))},
            "post": {"summary": "Queue every veto, every failed result and a seeded random share per agent and week",
                     "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["period"],
                         "properties": {"period": {"type": "string"}, "rate": {"type": "number"}, "seed": {"type": "string"}}}}}},
                     "responses": with_errors(obj("what was queued"))}
        },
        "/api/v1/reports/agents": {"get": {"summary": "KPIs against targets and star ratings per agent",
            "parameters": report_params(), "responses": with_errors(obj("report"))}},
        "/api/v1/reports/rules": {"get": {"summary": "Violations per rule, most broken first",
            "parameters": report_params(), "responses": with_errors(obj("report"))}},
        "/api/v1/reports/centre": {"get": {"summary": "Centre and team KPIs against targets",
            "parameters": report_params(), "responses": with_errors(obj("report"))}},
        "/api/v1/reports/assessment": {"get": {"summary": "The weighted assessment computed now (not stored)",
            "parameters": [period_param()], "responses": with_errors(obj("assessment"))}},
        "/api/v1/settings/quality": {
            "get": {"summary": "KPI targets, star thresholds, assessment scheme, sampling", "responses": with_errors(obj("settings"))},
            "put": {"summary": "Change them (supervisors, admins)",
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": with_errors(obj("saved"))}
        },
        "/api/v1/assessments": {
            "get": {"summary": "Assessment runs (agents: their rows of published runs)", "responses": with_errors(obj("runs"))},
            "post": {"summary": "Run a period's assessment as a draft",
                     "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["period"],
                         "properties": {"period": {"type": "string"}}}}}},
                     "responses": with_errors(json!({"201": {"description": "the draft"}}))}
        },
        "/api/v1/assessments/{id}": {"get": {"summary": "One run", "parameters": [num_id], "responses": with_errors(json!({"200": {
            "description": "run", "content": {"application/json": {"schema": {"type": "object", "properties": {
                "id": {"type": "integer"}, "period": {"type": "string"}, "status": {"type": "string", "enum": ["draft", "published"]},
                "created_by": {"type": "string"}, "created_at": {"$ref": "#/components/schemas/Time"},
                "published_by": {"type": ["string", "null"]},
                "published_at": {"oneOf": [{"$ref": "#/components/schemas/Time"}, {"type": "null"}]},
                "results": {"type": "array", "items": {"type": "object"}}}}}}}}))}},
        "/api/v1/imports": {"post": {"summary": "Import a file in any format `kefu import` reads (native JSONL/JSON, Alibaba/Tencent/Huawei/Amazon results, CSV/TSV, chat logs; detected), inspected and stored (inspectors, supervisors, admins). Spooled to disk up to the server's limit (`kefu serve --max-upload-size`, 1 GiB by default)",
            "requestBody": {"required": true, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                "properties": {"kind": {"type": "string", "enum": ["conversations", "complaints"], "default": "conversations",
                                        "description": "what the file holds; sent before `file`. complaints: a CSV/TSV/XLSX complaint list (docs/formats.md), each row filed like POST /api/v1/complaints dated by its 提交时间; `stored` counts filed, `skipped` already stored (by id); inspectors may not"},
                               "file": {"type": "string", "format": "binary", "description": "the file; its name helps detection (.csv, .txt …)"}}}}}},
            "responses": with_errors(json!({
                "201": {"description": "something was stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FileImport"}}}},
                "200": {"description": "everything was already stored", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/FileImport"}}}},
                "413": {"$ref": "#/components/responses/Error"},
                "422": {"$ref": "#/components/responses/Error"}}))}},
        "/api/v1/assessments/{id}/publish": {"post": {"summary": "Publish (freeze) a draft",
            "parameters": [num_id], "responses": with_errors(obj("the published run"))}}
    })
}
