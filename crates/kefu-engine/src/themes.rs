//! Theme analysis of customers' words (feedback records, customer turns):
//! what customers talk about in a period, how often, and what is rising
//! against the previous period — deterministic and offline.
//!
//! 1. **Words.** Each text is cut into words with jieba-rs (its dictionary
//!    is compiled into the binary and loaded on first use only — never by
//!    the inspection path, which needs no segmenter). Words of one
//!    character, numbers, punctuation and a short list of function and
//!    courtesy words (`stop_word`) are dropped.
//! 2. **Keywords (TF-IDF).** A word's weight in a text is its count there
//!    times `ln(1 + N / df)`, with `df` the number of texts of both periods
//!    holding it. Each text keeps its `keywords_per_text` best words (ties:
//!    the word that sorts first).
//! 3. **Themes (keyword co-occurrence).** Keywords kept by at least
//!    `min_texts` texts of the period are candidates, ordered by how many
//!    texts keep them (then by word). In that order, each unused candidate
//!    seeds a theme and takes the unused candidates whose texts overlap its
//!    own by a Jaccard index of at least `min_overlap`. There is no random
//!    start, so the same texts always give the same themes.
//! 4. **Counts and trend.** A text belongs to the theme with which it
//!    shares the most keywords (ties: the earlier theme), or to none. The
//!    texts of the previous period are counted against the same themes. A
//!    theme is *rising* when it has at least `min_rising` texts and its
//!    share of the period's texts grew by `rising_ratio` or more (or it was
//!    absent before).
//! 5. **Verbatims.** Each theme lists its texts (indices into the input),
//!    those with the most theme keywords first, for drill-down.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use jieba_rs::Jieba;
use serde::{Deserialize, Serialize};

static JIEBA: OnceLock<Jieba> = OnceLock::new();

/// The segmenter, loading its dictionary on first use.
fn jieba() -> &'static Jieba {
    JIEBA.get_or_init(Jieba::new)
}

/// Whether the segmenter's dictionary has been loaded in this process
/// (the inspection path never loads it).
pub fn dictionary_loaded() -> bool {
    JIEBA.get().is_some()
}

/// Words that carry no theme: pronouns, function words, courtesy phrases
/// and words every contact-centre text has.
const STOP_WORDS: &[&str] = &[
    "一下",
    "一个",
    "一些",
    "一直",
    "不是",
    "不能",
    "东西",
    "为什么",
    "么",
    "也是",
    "了解",
    "什么",
    "今天",
    "他们",
    "以后",
    "你们",
    "便",
    "保证",
    "其实",
    "出来",
    "别的",
    "可以",
    "可能",
    "各位",
    "告诉",
    "因为",
    "在",
    "客服",
    "已经",
    "希望",
    "帮忙",
    "应该",
    "您好",
    "怎么",
    "怎么办",
    "总是",
    "感觉",
    "我们",
    "所以",
    "打电话",
    "时候",
    "明白",
    "是不是",
    "有点",
    "没有",
    "然后",
    "现在",
    "电话",
    "真的",
    "知道",
    "确实",
    "而且",
    "能不能",
    "自己",
    "觉得",
    "请问",
    "谢谢",
    "还是",
    "还有",
    "这个",
    "这么",
    "这样",
    "那个",
    "那么",
    "问题",
    "需要",
    "非常",
    "你好",
    "好的",
    "就是",
    "但是",
    "如果",
    "的话",
    "一次",
    "每次",
    "这次",
    "上次",
    "还要",
    "要求",
    "处理",
    "麻烦",
    "一样",
    "太",
    "比较",
    "特别",
    "只能",
    "不了",
    // Time and degree words: how long, not what about.
    "小时",
    "星期",
    "时间",
    "两个",
    "半个",
    "显示",
    "太慢",
    "太久",
    "很久",
    "尽快",
    "一点",
    "到底",
    "以后",
    "提前",
    "第二天",
];

fn stop_word(w: &str) -> bool {
    STOP_WORDS.contains(&w)
}

/// Whether `w` is a count of days, times or items written with Chinese
/// numerals (`五天`, `十几次`, `两个`).
fn counted(w: &str) -> bool {
    let mut chars: Vec<char> = w.chars().collect();
    let Some(unit) = chars.pop() else {
        return false;
    };
    "天次个年月周遍".contains(unit)
        && !chars.is_empty()
        && chars
            .iter()
            .all(|c| "一二三四五六七八九十两几百千半多".contains(*c))
}

/// Whether `w` can be a keyword: at least two characters, at least one of
/// them a letter (CJK included), not a stop word or a count.
fn keeps(w: &str) -> bool {
    w.chars().count() >= 2 && w.chars().any(char::is_alphabetic) && !stop_word(w) && !counted(w)
}

/// The words of `text` that can be keywords, in order, lower-cased.
pub fn words(text: &str) -> Vec<String> {
    jieba()
        .cut(text, false)
        .into_iter()
        .map(|t| t.word.trim().to_lowercase())
        .filter(|w| keeps(w))
        .collect()
}

/// The knobs of [`analyse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThemeOptions {
    /// Most themes reported.
    pub max_themes: usize,
    /// Keywords each text keeps.
    pub keywords_per_text: usize,
    /// Texts a keyword needs to be a theme candidate.
    pub min_texts: usize,
    /// Jaccard overlap of texts for two keywords to share a theme.
    pub min_overlap: f64,
    /// Most keywords of a theme.
    pub max_keywords: usize,
    /// Growth of a theme's share that makes it rising.
    pub rising_ratio: f64,
    /// Texts a theme needs to be called rising.
    pub min_rising: usize,
}

impl Default for ThemeOptions {
    fn default() -> Self {
        ThemeOptions {
            max_themes: 12,
            keywords_per_text: 6,
            min_texts: 2,
            min_overlap: 0.3,
            max_keywords: 5,
            rising_ratio: 1.5,
            min_rising: 2,
        }
    }
}

/// One theme of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Theme {
    /// Its name: its leading keywords joined with `·`.
    pub label: String,
    /// Its keywords, the seed first.
    pub keywords: Vec<String>,
    /// Texts of the period in it.
    pub count: usize,
    /// Texts of the previous period in it.
    pub previous: usize,
    /// Its share of the period's texts, in percent (one decimal).
    pub share: f64,
    /// Its share of the previous period's texts, in percent.
    pub previous_share: f64,
    /// Whether it is rising.
    pub rising: bool,
    /// Its texts (indices into the period's input), most keywords first.
    pub texts: Vec<usize>,
}

/// The themes of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThemeReport {
    /// Texts of the period.
    pub texts: usize,
    /// Texts of the previous period.
    pub previous_texts: usize,
    /// Texts of the period in no theme.
    pub unthemed: usize,
    /// The themes, most texts first (ties: label).
    pub themes: Vec<Theme>,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn share(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        round1(n as f64 * 100.0 / of as f64)
    }
}

/// The themes of `current` (the period's texts) with their trend against
/// `previous` (the previous period's). Deterministic: the same texts give
/// the same report.
pub fn analyse<S: AsRef<str>>(current: &[S], previous: &[S], opts: &ThemeOptions) -> ThemeReport {
    let cur: Vec<Vec<String>> = current.iter().map(|t| words(t.as_ref())).collect();
    let prev: Vec<Vec<String>> = previous.iter().map(|t| words(t.as_ref())).collect();
    // Document frequency over both periods.
    let mut df: BTreeMap<&str, usize> = BTreeMap::new();
    for doc in cur.iter().chain(prev.iter()) {
        let set: BTreeSet<&str> = doc.iter().map(String::as_str).collect();
        for w in set {
            *df.entry(w).or_default() += 1;
        }
    }
    let n = (cur.len() + prev.len()).max(1) as f64;
    let keywords_of = |doc: &Vec<String>| -> BTreeSet<String> {
        let mut tf: BTreeMap<&str, usize> = BTreeMap::new();
        for w in doc {
            *tf.entry(w.as_str()).or_default() += 1;
        }
        let mut scored: Vec<(f64, &str)> = tf
            .into_iter()
            .map(|(w, c)| {
                let d = df.get(w).copied().unwrap_or(1) as f64;
                (c as f64 * (1.0 + n / d).ln(), w)
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(opts.keywords_per_text)
            .map(|(_, w)| w.to_string())
            .collect()
    };
    let cur_kw: Vec<BTreeSet<String>> = cur.iter().map(keywords_of).collect();
    // Candidates: keywords kept by enough texts of the period.
    let mut holders: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, kws) in cur_kw.iter().enumerate() {
        for k in kws {
            holders.entry(k.as_str()).or_default().insert(i);
        }
    }
    let mut candidates: Vec<(&str, &BTreeSet<usize>)> = holders
        .iter()
        .filter(|(_, docs)| docs.len() >= opts.min_texts.max(1))
        .map(|(w, d)| (*w, d))
        .collect();
    candidates.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    // Greedy co-occurrence clustering.
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut clusters: Vec<Vec<String>> = Vec::new();
    for (seed, seed_docs) in &candidates {
        if clusters.len() >= opts.max_themes {
            break;
        }
        if used.contains(seed) {
            continue;
        }
        used.insert(seed);
        let mut keywords = vec![seed.to_string()];
        for (other, docs) in &candidates {
            if keywords.len() >= opts.max_keywords.max(1) {
                break;
            }
            if used.contains(other) {
                continue;
            }
            let inter = seed_docs.intersection(docs).count();
            let union = seed_docs.union(docs).count();
            if union > 0 && inter as f64 / union as f64 >= opts.min_overlap {
                used.insert(other);
                keywords.push(other.to_string());
            }
        }
        clusters.push(keywords);
    }
    // Assignment: the theme sharing the most words of the text.
    let assign = |doc: &Vec<String>| -> Option<(usize, usize)> {
        let set: BTreeSet<&str> = doc.iter().map(String::as_str).collect();
        let mut best: Option<(usize, usize)> = None;
        for (t, kws) in clusters.iter().enumerate() {
            let hits = kws.iter().filter(|k| set.contains(k.as_str())).count();
            if hits > 0 && best.is_none_or(|(_, h)| hits > h) {
                best = Some((t, hits));
            }
        }
        best
    };
    let mut members: Vec<Vec<(usize, usize)>> = vec![Vec::new(); clusters.len()];
    let mut unthemed = 0;
    for (i, doc) in cur.iter().enumerate() {
        match assign(doc) {
            Some((t, hits)) => {
                if let Some(m) = members.get_mut(t) {
                    m.push((i, hits));
                }
            }
            None => unthemed += 1,
        }
    }
    let mut prev_counts = vec![0usize; clusters.len()];
    for doc in &prev {
        if let Some((t, _)) = assign(doc) {
            if let Some(c) = prev_counts.get_mut(t) {
                *c += 1;
            }
        }
    }
    let mut themes: Vec<Theme> = clusters
        .into_iter()
        .zip(members)
        .zip(prev_counts)
        .filter(|((_, m), _)| !m.is_empty())
        .map(|((keywords, mut m), previous)| {
            m.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            let count = m.len();
            let share_now = share(count, cur.len());
            let share_before = share(previous, prev.len());
            let rising = count >= opts.min_rising
                && (previous == 0 || share_now >= share_before * opts.rising_ratio);
            Theme {
                label: keywords
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("·"),
                keywords,
                count,
                previous,
                share: share_now,
                previous_share: share_before,
                rising,
                texts: m.into_iter().map(|(i, _)| i).collect(),
            }
        })
        .collect();
    themes.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    ThemeReport {
        texts: cur.len(),
        previous_texts: prev.len(),
        unthemed,
        themes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_drop_stop_words_and_single_characters() {
        let w = words("您好，快递太慢了，我们希望换一家快递公司！");
        assert!(w.contains(&"快递".to_string()), "{w:?}");
        assert!(!w
            .iter()
            .any(|x| x == "我们" || x == "您好" || x.chars().count() < 2));
        assert!(counted("五天") && counted("十几次") && !counted("天天") && !counted("退款"));
    }

    #[test]
    fn empty_input_has_no_themes() {
        let none: [&str; 0] = [];
        let r = analyse(&none, &none, &ThemeOptions::default());
        assert_eq!((r.texts, r.themes.len()), (0, 0));
    }
}
