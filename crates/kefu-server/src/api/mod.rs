//! The JSON API under `/api/v1`, one file per resource: `auth` (sign-in,
//! sessions, tokens, the `Caller` extractor), `complaints` (complaints,
//! revisits, SLA settings and reports), `conversations` (import, inspection
//! results, search), `feedback` (信息反馈: records, commands, board,
//! themes), `review_and_kpi` (reviews, appeals, review queues, KPI reports,
//! ratings, assessments and their settings), `mystery` (神秘客户: score
//! sheets, plans, shops, reviews, results, agreement) and `openapi` (the
//! OpenAPI document).

pub(crate) mod auth;
pub(crate) mod complaints;
pub(crate) mod conversations;
pub(crate) mod customers;
mod doc;
pub(crate) mod feedback;
pub(crate) mod handover;
pub(crate) mod mystery;
pub(crate) mod notifications;
pub(crate) mod openapi;
pub(crate) mod review_and_kpi;
