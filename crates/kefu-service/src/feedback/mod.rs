//! Information feedback (信息反馈): customers' opinions collected from
//! conversation turns (an inspector or agent marks a turn), survey
//! comments, complaints and manual entry; routed to a department and an
//! owner with a due time, answered by the department, told back to the
//! customer, closed — with an append-only history, ageing rules that
//! escalate untouched records, a board per department, and theme analysis
//! over a period (docs/operations.md).
//!
//! # States and commands
//!
//! | command         | allowed in                   | goes to     | who                          |
//! |-----------------|------------------------------|-------------|------------------------------|
//! | `assign`        | 新建 / 已分派, 处理中         | 已分派 / unchanged (re-route) | supervisor, admin |
//! | `start`         | 已分派                       | 处理中      | owner, supervisor, admin     |
//! | `respond`       | 处理中                       | 已答复      | owner, supervisor, admin     |
//! | `tell_customer` | 已答复                       | 已告知客户  | agent, supervisor, admin     |
//! | `close`         | 已告知客户                   | 关闭        | supervisor, admin            |
//! | `reject`        | any open state               | 驳回        | owner, supervisor, admin     |
//! | `note`          | any state                    | unchanged   | anyone who may see it        |
//!
//! Agents see the records they recorded or own; staff see all. A move (and
//! a re-route) restarts the ageing clock (`state_since`) and clears the
//! ageing flag.
//!
//! - `model.rs` — the record, states, commands and the pure [`apply`];
//! - `settings.rs` — the category tree, ageing rules, default answer time;
//! - `service.rs` — [`FeedbackService`] over the store;
//! - `themes.rs` — theme analysis of a period through
//!   [`kefu_engine::themes`].

mod model;
mod service;
mod settings;
mod themes;

pub use model::*;
pub use service::*;
pub use settings::*;
pub use themes::*;
