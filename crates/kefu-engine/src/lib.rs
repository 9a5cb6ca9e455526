//! kefu's inspection engine: pure, deterministic, no I/O.
//!
//! The flow is: load a [`RulePack`] from TOML, compile it once into an
//! [`Inspector`] (phrase automaton, regexes, festival calendar), then call
//! [`Inspector::inspect`] for each [`Conversation`], from as many threads as
//! you like, to get an [`Inspection`]: findings with evidence and a score.

pub mod anniversary;
pub mod calendar;
pub mod cases;
pub mod chat;
pub mod guard;
pub mod inspect;
mod json_out;
pub mod lenient;
mod message;
pub mod model;
pub mod normalize;
pub mod pack;
pub mod required;
pub mod review;
pub mod themes;
mod wait;

pub use inspect::{Finding, Inspection, Inspector, Scratch};
pub use model::{Channel, Conversation, EndedBy, Meta, Role, Turn};
pub use pack::{PackError, PackIssue, Rule, RuleKind, RulePack};
