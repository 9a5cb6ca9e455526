//! What the layout (`base.html`) needs on every page: [`Ctx`], with the
//! navigation allowed to the user, the language switch, the signed-in
//! user, the CSRF token, the asset URLs and a notice after a POST.

use super::nav::{NavItem, Section};
use super::query::{encode, query_pairs, query_string};
use super::user::WebUser;
use crate::web::i18n::{msg, Lang, Messages};
use crate::web::{assets, labels};

/// A link of the language switch.
#[derive(Debug, Clone)]
pub(crate) struct LangLink {
    /// Label (the language's own name).
    pub label: String,
    /// `/lang/xx?next=…`.
    pub href: String,
    /// Whether it is the current language.
    pub current: bool,
    /// `zh` or `en`.
    pub code: &'static str,
}

/// What the layout (`base.html`) needs on every page.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The language.
    pub lang: Lang,
    /// Its labels.
    pub m: &'static Messages,
    /// The page title.
    pub title: String,
    /// Navigation visible to the user (empty when signed out).
    pub nav: Vec<NavItem>,
    /// Language switch.
    pub langs: Vec<LangLink>,
    /// Whether someone is signed in.
    pub signed_in: bool,
    /// Signed-in user's name.
    pub user_name: String,
    /// Signed-in user's role, as a label.
    pub user_role: String,
    /// CSRF token for forms (empty when signed out).
    pub csrf: String,
    /// Stylesheet URL (versioned).
    pub css: String,
    /// Script URL (versioned).
    pub js: String,
    /// Favicon URL (versioned).
    pub icon: String,
    /// A confirmation to show (after a successful POST), already a label.
    pub notice: Option<String>,
    /// The signed-in user's unread notifications (the header's badge).
    pub unread: i64,
}

impl Ctx {
    /// The context of a page.
    pub(crate) fn new(
        lang: Lang,
        user: Option<&WebUser>,
        uri: &str,
        section: Option<Section>,
        title_key: &str,
    ) -> Ctx {
        let m = lang.messages();
        let nav = match user {
            Some(u) => Section::ALL
                .iter()
                .filter(|s| s.allowed(u.role()))
                .map(|s| NavItem {
                    label: m.t(s.key()).to_string(),
                    href: s.href(),
                    current: Some(*s) == section,
                })
                .collect(),
            None => Vec::new(),
        };
        let back = strip_lang_param(uri);
        let langs = Lang::ALL
            .iter()
            .map(|l| LangLink {
                label: m
                    .t(match l {
                        Lang::Zh => msg("lang.zh"),
                        Lang::En => msg("lang.en"),
                    })
                    .to_string(),
                href: format!("/lang/{}?next={}", l.code(), encode(&back)),
                current: *l == lang,
                code: l.code(),
            })
            .collect();
        let notice = query_pairs(uri.split_once('?').map(|(_, q)| q))
            .iter()
            .find(|(k, _)| k == "done")
            .and_then(|(_, v)| m.try_get(&format!("notice.{v}")))
            .map(str::to_string);
        Ctx {
            lang,
            m,
            title: m.t(title_key).to_string(),
            nav,
            langs,
            signed_in: user.is_some(),
            user_name: user.map(|u| u.display_name.clone()).unwrap_or_default(),
            user_role: user
                .map(|u| m.t(&labels::role(u.role())).to_string())
                .unwrap_or_default(),
            csrf: user.map(WebUser::csrf).unwrap_or_default(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("favicon.svg"),
            notice,
            unread: user.map_or(0, |u| u.unread),
        }
    }

    /// The label of `key`.
    pub(crate) fn t<'a>(&'a self, key: &'a str) -> &'a str {
        self.m.t(key)
    }

    /// The label of `key` with `{0}` filled in.
    pub(crate) fn t1(&self, key: &str, arg: impl std::fmt::Display) -> String {
        self.m.t1(key, arg)
    }

    /// The label of `key` with `{0}` and `{1}` filled in.
    pub(crate) fn t2(
        &self,
        key: &str,
        a: impl std::fmt::Display,
        b: impl std::fmt::Display,
    ) -> String {
        self.m.t2(key, a, b)
    }

    /// The label of a key built at run time (see `labels`); `fallback` when
    /// the catalogue has none (a value the dashboard does not know).
    pub(crate) fn label<'a>(&'a self, key: &str, fallback: &'a str) -> &'a str {
        self.m.try_get(key).unwrap_or(fallback)
    }

    /// Title shown in the browser tab.
    pub(crate) fn full_title(&self) -> String {
        format!("{} · {}", self.title, self.m.t("app.name"))
    }
}

/// `uri` without `lang=` and `done=` parameters (for the language switch).
fn strip_lang_param(uri: &str) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    let pairs: Vec<(String, String)> = query_pairs(query)
        .into_iter()
        .filter(|(k, _)| k != "lang" && k != "done")
        .collect();
    format!(
        "{path}{}",
        query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_switch_drops_lang_and_done() {
        assert_eq!(
            strip_lang_param("/x?lang=en&page=2&done=saved"),
            "/x?page=2"
        );
        assert_eq!(strip_lang_param("/x"), "/x");
    }
}
