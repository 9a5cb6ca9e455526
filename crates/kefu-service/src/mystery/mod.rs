//! Mystery customers (神秘客户): test contacts made by shoppers posing as
//! customers, scored on a versioned score sheet, checked by a reviewer
//! before they count, and fed into the agent assessment
//! (docs/operations.md).
//!
//! - **Sheets** — sections of weighted items; a failed *critical* item
//!   zeroes the shop (like a veto rule); an item may name an inspection
//!   rule id of the rule pack, for the agreement report. Saving a sheet
//!   adds a version; plans use the latest version when created.
//! - **Plans** — scenario, persona, script, target (agent or team),
//!   channel, window; 草稿 → 进行中 → 已结束. Staff only: agents never see a
//!   plan, so a shop aimed at them stays a mystery.
//! - **Shops** — recorded by staff (or for an external shopper) against
//!   an active plan, within its window, linked to the imported
//!   conversation of the test contact (its agent is the agent served);
//!   scored by [`score_shop`]; submitted → approved / returned (with a
//!   reason) by a supervisor who did not record it. A returned (or
//!   approved) shop may be re-shopped once: the new shop joins its chain,
//!   and of each chain only the latest approved shop counts
//!   ([`counted`]). Agents see their own approved shops.
//! - **Assessment** — the indicator source `mystery_shop` scores an agent
//!   by the mean of their counted shops in the period (see
//!   `kpi::IndicatorSource`).
//! - **Agreement** — [`agreement`]: shopper against automatic inspection
//!   per mapped item, with agreement % and Cohen's kappa.

mod agreement;
mod model;
mod service;

pub use agreement::*;
pub use model::*;
pub use service::*;
