//! The feedback settings (key `feedback`): the category tree, the ageing
//! rules per state and the default answer time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::feedback::model::{FeedbackState, MAX_NAME_CHARS};
use crate::sla::parse_duration;

/// The settings key.
pub const FEEDBACK_SETTINGS_KEY: &str = "feedback";

/// A node of the category tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// Its name (no `/`).
    pub name: String,
    /// Subcategories.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Category>,
}

impl Category {
    fn node(name: &str, children: &[&str]) -> Category {
        Category {
            name: name.to_string(),
            children: children.iter().map(|c| Category::node(c, &[])).collect(),
        }
    }
}

/// The feedback settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeedbackSettings {
    /// The category tree; a record's category is a path of it
    /// (`物流配送/延迟`), a leaf or an inner node.
    pub categories: Vec<Category>,
    /// How long a record may stay untouched in a state before ageing
    /// escalates it (`24h`, `2d`); states not listed never age.
    pub ageing: BTreeMap<FeedbackState, String>,
    /// The due time of an assignment that names none, from the assignment.
    pub answer_within: String,
    /// The category a satisfaction survey's comment is filed under as
    /// feedback (source `survey_comment`) when the survey is recorded;
    /// empty files nothing.
    pub survey_comment_category: String,
}

impl Default for FeedbackSettings {
    fn default() -> Self {
        FeedbackSettings {
            categories: vec![
                Category::node("产品质量", &["功能故障", "外观包装"]),
                Category::node("服务态度", &[]),
                Category::node("物流配送", &["配送延迟", "商品破损"]),
                Category::node("价格费用", &[]),
                Category::node("售后政策", &["退换货", "维修"]),
                Category::node("建议", &["产品建议", "服务建议"]),
                Category::node("其他", &[]),
            ],
            ageing: BTreeMap::from([
                (FeedbackState::New, "24h".to_string()),
                (FeedbackState::Assigned, "24h".to_string()),
                (FeedbackState::InProgress, "72h".to_string()),
                (FeedbackState::Answered, "24h".to_string()),
            ]),
            answer_within: "3d".to_string(),
            survey_comment_category: "其他".to_string(),
        }
    }
}

impl FeedbackSettings {
    /// Every category path, depth first (`产品质量`, `产品质量/功能故障` …).
    pub fn category_paths(&self) -> Vec<String> {
        fn walk(prefix: &str, nodes: &[Category], out: &mut Vec<String>) {
            for n in nodes {
                let path = if prefix.is_empty() {
                    n.name.clone()
                } else {
                    format!("{prefix}/{}", n.name)
                };
                out.push(path.clone());
                walk(&path, &n.children, out);
            }
        }
        let mut out = Vec::new();
        walk("", &self.categories, &mut out);
        out
    }

    /// Whether `path` names a category of the tree.
    pub fn has_category(&self, path: &str) -> bool {
        self.category_paths().iter().any(|p| p == path)
    }

    /// The ageing limits in milliseconds, per state.
    pub fn ageing_ms(&self) -> Result<Vec<(FeedbackState, i64)>, Error> {
        self.ageing
            .iter()
            .map(|(state, text)| {
                let d = parse_duration(text)
                    .map_err(|e| Error::invalid_field(&format!("ageing.{state}"), e))?;
                Ok((*state, d.num_milliseconds()))
            })
            .collect()
    }

    /// The default answer time in milliseconds.
    pub fn answer_within_ms(&self) -> Result<i64, Error> {
        parse_duration(&self.answer_within)
            .map(|d| d.num_milliseconds())
            .map_err(|e| Error::invalid_field("answer_within", e))
    }

    /// Checks the whole: names of 1–200 characters without `/`, unique
    /// among siblings; ageing only of open states, positive durations.
    pub fn validate(&self) -> Result<(), Error> {
        fn check(nodes: &[Category]) -> Result<(), Error> {
            let mut seen = std::collections::BTreeSet::new();
            for n in nodes {
                let name = n.name.trim();
                if name.is_empty() || name.contains('/') || name.chars().count() > MAX_NAME_CHARS {
                    return Err(Error::invalid_field(
                        "categories",
                        format!("`{}`: 1–200 characters, no `/`", n.name),
                    ));
                }
                if !seen.insert(name) {
                    return Err(Error::invalid_field(
                        "categories",
                        format!("`{name}` appears twice"),
                    ));
                }
                check(&n.children)?;
            }
            Ok(())
        }
        if self.categories.is_empty() {
            return Err(Error::invalid_field("categories", "at least one category"));
        }
        check(&self.categories)?;
        let survey = self.survey_comment_category.trim();
        if !survey.is_empty() && !self.has_category(survey) {
            return Err(Error::invalid_field(
                "survey_comment_category",
                format!("`{survey}` is not in the category tree"),
            ));
        }
        for (state, ms) in self.ageing_ms()? {
            if !state.is_open() {
                return Err(Error::invalid_field(
                    "ageing",
                    format!("{state} is final and cannot age"),
                ));
            }
            if ms <= 0 {
                return Err(Error::invalid_field(
                    &format!("ageing.{state}"),
                    "must be positive",
                ));
            }
        }
        if self.answer_within_ms()? <= 0 {
            return Err(Error::invalid_field("answer_within", "must be positive"));
        }
        Ok(())
    }
}
