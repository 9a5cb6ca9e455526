//! Pages that are routed and in the navigation but not built yet: the
//! overview (KPIs), the review queue, appeals and agents. Each shows a
//! "coming" notice; replace the handler and its template when the page is
//! built.

use super::i18n::msg;
use super::page::{render, Ctx, Page, PageResult, Section};

#[derive(askama::Template)]
#[template(path = "coming.html")]
struct ComingPage {
    ctx: Ctx,
    /// Message key of the page's one-line description.
    about: &'static str,
}

fn coming(page: &Page, section: Section, title: &str, about: &'static str) -> PageResult {
    page.user.require(section)?;
    render(&ComingPage {
        ctx: page.ctx(Some(section), title),
        about,
    })
}

/// `GET /`: the overview (KPIs, trends) — coming.
pub async fn overview(page: Page) -> PageResult {
    coming(
        &page,
        Section::Overview,
        msg("nav.overview"),
        msg("coming.overview"),
    )
}

/// `GET /review`: the review queue — coming.
pub async fn review(page: Page) -> PageResult {
    coming(
        &page,
        Section::Review,
        msg("nav.review"),
        msg("coming.review"),
    )
}

/// `GET /appeals`: appeals — coming.
pub async fn appeals(page: Page) -> PageResult {
    coming(
        &page,
        Section::Appeals,
        msg("nav.appeals"),
        msg("coming.appeals"),
    )
}

/// `GET /agents`: agents and their ratings — coming.
pub async fn agents(page: Page) -> PageResult {
    coming(
        &page,
        Section::Agents,
        msg("nav.agents"),
        msg("coming.agents"),
    )
}
