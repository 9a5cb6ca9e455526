//! Languages and the message catalogues.
//!
//! Every label the dashboard shows comes from `messages/zh.toml` or
//! `messages/en.toml` (compiled into the binary). Keys are dotted paths of
//! the TOML tables (`[nav] overview = "概览"` is `nav.overview`). A missing
//! key shows as the key itself (and is caught by the unit tests below, which
//! check that both files have the same keys and that every key the
//! templates and the Rust code name exists).

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::LazyLock;

/// The Chinese catalogue (the default language), one file per area of the
/// dashboard; a key is defined in exactly one of them.
const ZH_TOML: &[(&str, &str)] = &[
    ("zh.toml", include_str!("../../messages/zh.toml")),
    (
        "zh-quality.toml",
        include_str!("../../messages/zh-quality.toml"),
    ),
    (
        "zh-overview.toml",
        include_str!("../../messages/zh-overview.toml"),
    ),
    (
        "zh-customers.toml",
        include_str!("../../messages/zh-customers.toml"),
    ),
    ("zh-io.toml", include_str!("../../messages/zh-io.toml")),
    (
        "zh-feedback.toml",
        include_str!("../../messages/zh-feedback.toml"),
    ),
    (
        "zh-handover.toml",
        include_str!("../../messages/zh-handover.toml"),
    ),
    (
        "zh-mystery.toml",
        include_str!("../../messages/zh-mystery.toml"),
    ),
    (
        "zh-notify.toml",
        include_str!("../../messages/zh-notify.toml"),
    ),
];
/// The English catalogue, file for file.
const EN_TOML: &[(&str, &str)] = &[
    ("en.toml", include_str!("../../messages/en.toml")),
    (
        "en-quality.toml",
        include_str!("../../messages/en-quality.toml"),
    ),
    (
        "en-overview.toml",
        include_str!("../../messages/en-overview.toml"),
    ),
    (
        "en-customers.toml",
        include_str!("../../messages/en-customers.toml"),
    ),
    ("en-io.toml", include_str!("../../messages/en-io.toml")),
    (
        "en-feedback.toml",
        include_str!("../../messages/en-feedback.toml"),
    ),
    (
        "en-handover.toml",
        include_str!("../../messages/en-handover.toml"),
    ),
    (
        "en-mystery.toml",
        include_str!("../../messages/en-mystery.toml"),
    ),
    (
        "en-notify.toml",
        include_str!("../../messages/en-notify.toml"),
    ),
];

/// Name of the cookie that remembers the language.
pub(crate) const LANG_COOKIE: &str = "lang";

/// A language of the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Lang {
    /// Simplified Chinese, the default.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Both languages, default first.
    pub(crate) const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    /// `zh` or `en`: the value of the cookie and of `?lang=`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The HTML `lang` attribute.
    pub(crate) fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Parses `zh`/`en` (also `zh-CN`, `en-US`, any case).
    pub(crate) fn parse(code: &str) -> Option<Lang> {
        let code = code.trim().to_ascii_lowercase();
        if code == "zh" || code.starts_with("zh-") {
            Some(Lang::Zh)
        } else if code == "en" || code.starts_with("en-") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The catalogue of this language.
    pub(crate) fn messages(self) -> &'static Messages {
        match self {
            Lang::Zh => &ZH,
            Lang::En => &EN,
        }
    }
}

/// Marks a string literal as a message key (so the tests find it); returns
/// it unchanged.
pub(crate) const fn msg(key: &'static str) -> &'static str {
    key
}

/// One language's labels, by dotted key.
#[derive(Debug, Default)]
pub(crate) struct Messages {
    map: HashMap<String, String>,
}

static ZH: LazyLock<Messages> = LazyLock::new(|| Messages::parse_all(ZH_TOML));
static EN: LazyLock<Messages> = LazyLock::new(|| Messages::parse_all(EN_TOML));

impl Messages {
    /// Reads a catalogue from its files; a broken file (caught by the
    /// tests) logs an error and yields what could be read.
    fn parse_all(files: &[(&str, &str)]) -> Messages {
        let mut map = HashMap::new();
        for (name, source) in files {
            match source.parse::<toml::Table>() {
                Ok(table) => flatten("", &table, &mut map),
                Err(e) => {
                    tracing::error!(file = name, error = %e, "message catalogue is not valid TOML")
                }
            }
        }
        Messages { map }
    }

    /// The label for `key`, or the key itself when missing.
    pub(crate) fn t<'a>(&'a self, key: &'a str) -> &'a str {
        match self.map.get(key) {
            Some(v) => v,
            None => {
                tracing::warn!(key, "missing message key");
                key
            }
        }
    }

    /// The label for `key` if there is one.
    pub(crate) fn try_get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// The label for `key` with `{0}` replaced by `arg`.
    pub(crate) fn t1(&self, key: &str, arg: impl Display) -> String {
        self.t(key).replace("{0}", &arg.to_string())
    }

    /// The label for `key` with `{0}`, `{1}` replaced.
    pub(crate) fn t2(&self, key: &str, a: impl Display, b: impl Display) -> String {
        self.t(key)
            .replace("{0}", &a.to_string())
            .replace("{1}", &b.to_string())
    }

    /// Every key (for tests).
    #[cfg(test)]
    pub(crate) fn keys(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    fn keys(files: &[(&str, &str)], _name: &str) -> BTreeSet<String> {
        let mut all = BTreeSet::new();
        for (name, source) in files {
            let table: toml::Table = source
                .parse()
                .unwrap_or_else(|e| panic!("{name} is not valid TOML: {e}"));
            let mut map = HashMap::new();
            flatten("", &table, &mut map);
            for (k, v) in &map {
                assert!(!v.trim().is_empty(), "{name}: `{k}` is empty");
                assert!(
                    all.insert(k.clone()),
                    "{name}: `{k}` is defined in two files"
                );
            }
        }
        all
    }

    #[test]
    fn both_catalogues_have_the_same_keys() {
        let zh = keys(ZH_TOML, "zh.toml");
        let en = keys(EN_TOML, "en.toml");
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty(), "only in zh.toml: {only_zh:?}");
        assert!(only_en.is_empty(), "only in en.toml: {only_en:?}");
        assert!(zh.len() > 100, "suspiciously few keys: {}", zh.len());
    }

    #[test]
    fn placeholders_match_between_languages() {
        for key in ZH.keys() {
            let (zh, en) = (ZH.t(key), EN.t(key));
            for p in ["{0}", "{1}"] {
                assert_eq!(
                    zh.contains(p),
                    en.contains(p),
                    "`{key}`: placeholder {p} in one language only"
                );
            }
        }
    }

    /// Keys named literally in templates and Rust code: `t("…")`,
    /// `t1("…")`, `t2("…")`, `msg("…")`.
    fn literal_keys(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for marker in ["t(\"", "t1(\"", "t2(\"", "msg(\""] {
            let mut rest = text;
            while let Some(at) = rest.find(marker) {
                let before = rest[..at].chars().next_back();
                rest = &rest[at + marker.len()..];
                // `ctx.t("…")`, `m.t("…")`: a method call, or a key helper.
                let is_call = matches!(before, Some('.') | Some(' ') | Some('(') | Some('{'))
                    || marker == "msg(\"";
                if !is_call {
                    continue;
                }
                if let Some(end) = rest.find('"') {
                    let key = &rest[..end];
                    if !key.is_empty()
                        && key
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_')
                    {
                        out.push(key.to_string());
                    }
                }
            }
        }
        out
    }

    fn files(dir: &Path, ext: &str, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                files(&p, ext, out);
            } else if p.extension().is_some_and(|x| x == ext) {
                out.push(p);
            }
        }
    }

    #[test]
    fn every_key_used_exists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut paths = Vec::new();
        files(&root.join("templates"), "html", &mut paths);
        let templates = paths.len();
        files(&root.join("src/web"), "rs", &mut paths);
        // This file's own tests name keys that must not exist.
        paths.retain(|p| !p.ends_with("i18n.rs"));
        assert!(templates >= 8, "templates not found ({templates})");
        let zh = keys(ZH_TOML, "zh.toml");
        let mut missing = Vec::new();
        let mut used = 0;
        for path in &paths {
            let text = std::fs::read_to_string(path).expect("read source");
            for key in literal_keys(&text) {
                used += 1;
                if !zh.contains(&key) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(used > 100, "suspiciously few keys used: {used}");
        assert!(
            missing.is_empty(),
            "keys used but not defined: {missing:#?}"
        );
    }

    #[test]
    fn every_key_built_at_run_time_exists() {
        let zh = keys(ZH_TOML, "zh.toml");
        let mut missing = Vec::new();
        for key in crate::web::labels::dynamic_keys() {
            if !zh.contains(&key) {
                missing.push(key);
            }
        }
        assert!(missing.is_empty(), "dynamic keys not defined: {missing:#?}");
    }

    #[test]
    fn missing_keys_show_as_the_key() {
        assert_eq!(ZH.t("no.such.key"), "no.such.key");
        assert_eq!(Lang::parse("EN-us"), Some(Lang::En));
        assert_eq!(Lang::parse("zh-CN"), Some(Lang::Zh));
        assert_eq!(Lang::parse("fr"), None);
    }
}
