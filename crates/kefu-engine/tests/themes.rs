//! Theme analysis on a fixture corpus (tests/themes/current.txt and
//! previous.txt, one customer text per line): the report must equal the
//! committed golden output, tests/themes/expected.json. After a deliberate
//! change to the method, rewrite it with `KEFU_BLESS_THEMES=1 cargo test
//! -p kefu-engine --test themes` and review the diff.

use kefu_engine::themes::{analyse, ThemeOptions};

const CURRENT: &str = include_str!("themes/current.txt");
const PREVIOUS: &str = include_str!("themes/previous.txt");
const EXPECTED: &str = include_str!("themes/expected.json");

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

#[test]
fn themes_of_the_fixture_corpus_match_the_golden_output() {
    let report = analyse(&lines(CURRENT), &lines(PREVIOUS), &ThemeOptions::default());
    let got = serde_json::to_string_pretty(&report).expect("json") + "\n";
    if std::env::var_os("KEFU_BLESS_THEMES").is_some() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/themes/expected.json");
        std::fs::write(path, &got).expect("write the golden output");
        return;
    }
    assert_eq!(
        got, EXPECTED,
        "theme report changed (see the file's docs to bless)"
    );
    // Deterministic: a second run gives the same report.
    assert_eq!(
        report,
        analyse(&lines(CURRENT), &lines(PREVIOUS), &ThemeOptions::default())
    );
}

#[test]
fn logistics_is_a_rising_theme_refunds_a_theme_coupons_steady() {
    let report = analyse(&lines(CURRENT), &lines(PREVIOUS), &ThemeOptions::default());
    let find = |word: &str| {
        report
            .themes
            .iter()
            .find(|t| t.keywords.iter().any(|k| k == word))
            .unwrap_or_else(|| panic!("no theme with {word}: {report:#?}"))
    };
    let logistics = find("快递");
    assert!(
        logistics.keywords.iter().any(|k| k == "物流"),
        "{logistics:?}"
    );
    assert!(logistics.count >= 5 && logistics.rising, "{logistics:?}");
    let refunds = find("退款");
    assert!(refunds.count >= 3, "{refunds:?}");
    let coupons = find("优惠券");
    assert!(!coupons.rising, "coupons are steady: {coupons:?}");
    // Drill-down: every verbatim of the refunds theme mentions a keyword.
    let texts = lines(CURRENT);
    for &i in &refunds.texts {
        assert!(
            refunds
                .keywords
                .iter()
                .any(|k| texts[i].contains(k.as_str())),
            "{}",
            texts[i]
        );
    }
}
