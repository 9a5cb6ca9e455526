//! Every rule kind, positive and negative, on small hand-written packs.

use kefu_engine::normalize::char_slice;
use kefu_engine::{Conversation, Inspection, Inspector, RulePack, Scratch};

fn pack(rules: &str) -> Inspector {
    let text = format!(
        "[pack]\nid = \"t\"\nversion = \"1\"\n[[dimensions]]\nid = \"d\"\nname = \"维度\"\n{rules}"
    );
    Inspector::new(RulePack::from_toml(&text).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run(ins: &Inspector, json: &str) -> Inspection {
    let conv: Conversation<'_> =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let result = ins.inspect(&conv, &mut Scratch::default());
    // Every span must point at the text it reports.
    for f in &result.findings {
        if let (Some(t), Some([s, e])) = (f.turn, f.span) {
            assert_eq!(
                Some(char_slice(&conv.turns[t].text, s, e)),
                f.text.as_deref()
            );
        }
    }
    result
}

/// A chat conversation from (role, text) pairs.
fn chat(turns: &[(&str, &str)]) -> String {
    let turns: Vec<String> = turns
        .iter()
        .map(|(r, t)| {
            format!(
                "{{\"role\":\"{r}\",\"text\":{}}}",
                serde_json::to_string(t).unwrap()
            )
        })
        .collect();
    format!(
        "{{\"id\":\"x\",\"channel\":\"chat\",\"turns\":[{}]}}",
        turns.join(",")
    )
}

/// A phone conversation from (role, text, start, end).
fn phone(extra: &str, turns: &[(&str, &str, u64, u64)]) -> String {
    let turns: Vec<String> = turns
        .iter()
        .map(|(r, t, s, e)| {
            format!(
                "{{\"role\":\"{r}\",\"text\":{},\"start_ms\":{s},\"end_ms\":{e}}}",
                serde_json::to_string(t).unwrap()
            )
        })
        .collect();
    format!(
        "{{\"id\":\"p\",\"channel\":\"phone\"{extra},\"turns\":[{}]}}",
        turns.join(",")
    )
}

fn rules_hit(r: &Inspection) -> Vec<&str> {
    r.findings.iter().map(|f| &*f.rule).collect()
}

const FORBIDDEN: &str = r#"
[[rules]]
id = "forbidden"
dimension = "d"
kind = "forbidden"
deduction = 5
cap = 12
phrases = ["不知道", "不清楚", "我不知道"]
unless = ["如有不清楚", "不知道您"]
"#;

#[test]
fn forbidden_hits_with_span_in_original_chars() {
    let ins = pack(FORBIDDEN);
    let r = run(
        &ins,
        &chat(&[("customer", "在吗"), ("agent", "嗯，这个我不知道。")]),
    );
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    let f = &r.findings[0];
    assert_eq!(f.turn, Some(1));
    // Leftmost-longest: 我不知道 wins over the 不知道 inside it.
    assert_eq!(f.text.as_deref(), Some("我不知道"));
    assert_eq!(f.span, Some([4, 8]));
    assert_eq!(r.score, 95.0);
}

#[test]
fn forbidden_matches_across_spaces_commas_traditional_and_full_width() {
    let ins = pack(FORBIDDEN);
    for text in [
        "不 知 道",
        "不，知道",
        "不…知道",
        "不知道",
        "我也不清楚",
        "這個我不清楚",
        "ＯＫ，不　知　道",
    ] {
        let r = run(&ins, &chat(&[("agent", text)]));
        assert_eq!(rules_hit(&r), vec!["forbidden"], "{text}");
    }
    let r = run(&ins, &chat(&[("agent", "我也不清楚")]));
    assert_eq!(r.findings[0].text.as_deref(), Some("不清楚"));
    let r = run(&ins, &chat(&[("agent", "這個我不清楚")]));
    assert_eq!(r.findings[0].text.as_deref(), Some("不清楚"));
    assert_eq!(r.findings[0].span, Some([3, 6]));
}

#[test]
fn forbidden_does_not_cross_sentences_or_fire_inside_unless() {
    let ins = pack(FORBIDDEN);
    for text in [
        "如有不清楚的地方请随时联系我们",
        "如有不清楚，请随时联系",
        "不知道您现在方便吗",
        "不。知道了",
        "我不！知道",
    ] {
        let r = run(&ins, &chat(&[("agent", text)]));
        assert!(r.findings.is_empty(), "{text}: {:?}", r.findings);
    }
    // Customers may say it; the rule is about agents.
    let r = run(&ins, &chat(&[("customer", "我不知道")]));
    assert!(r.findings.is_empty());
}

#[test]
fn deductions_are_capped_per_rule() {
    let ins = pack(FORBIDDEN);
    let r = run(&ins, &chat(&[("agent", "不知道。不清楚。不知道。")]));
    assert_eq!(r.findings.len(), 3);
    let d: Vec<f64> = r.findings.iter().map(|f| f.deduction).collect();
    assert_eq!(d, vec![5.0, 5.0, 2.0]);
    assert_eq!(r.score, 88.0);
}

#[test]
fn veto_sets_score_to_zero() {
    let ins = pack(
        r#"
[[rules]]
id = "insult"
dimension = "d"
kind = "forbidden"
deduction = 0
veto = true
phrases = ["神经病"]
"#,
    );
    let r = run(&ins, &chat(&[("agent", "你神經病吧")]));
    assert!(r.veto);
    assert_eq!(r.score, 0.0);
    assert!(!r.passed);
    assert_eq!(r.findings[0].text.as_deref(), Some("神經病"));
}

const REQUIRED: &str = r#"
[[rules]]
id = "opening"
dimension = "d"
kind = "required"
deduction = 5
first_turns = 1
phrases = ["您好"]
[[rules]]
id = "closing"
dimension = "d"
kind = "required"
deduction = 5
last_turns = 1
phrases = ["再见"]
"#;

#[test]
fn required_in_first_and_last_turns() {
    let ins = pack(REQUIRED);
    let ok = run(
        &ins,
        &chat(&[
            ("agent", "您好"),
            ("customer", "查话费"),
            ("agent", "好的，再见"),
        ]),
    );
    assert!(ok.findings.is_empty(), "{:?}", ok.findings);
    let late = run(
        &ins,
        &chat(&[
            ("agent", "请讲"),
            ("customer", "你好"),
            ("agent", "您好，再见"),
        ]),
    );
    assert_eq!(rules_hit(&late), vec!["opening"]);
    assert_eq!(late.findings[0].turn, None);
    let trad = run(&ins, &chat(&[("agent", "您 好"), ("agent", "再見")]));
    assert!(trad.findings.is_empty(), "{:?}", trad.findings);
}

#[test]
fn required_without_turns_of_the_role_is_not_applicable() {
    let ins = pack(REQUIRED);
    let r = run(
        &ins,
        &chat(&[("customer", "有人吗"), ("system", "会话超时结束")]),
    );
    assert!(r.findings.is_empty());
    assert_eq!(
        r.not_applicable.iter().map(|s| &**s).collect::<Vec<_>>(),
        vec!["opening", "closing"]
    );
}

const RESPONSE: &str = r#"
[[rules]]
id = "apology"
dimension = "d"
kind = "response"
deduction = 5
trigger = ["投诉", "太慢了"]
trigger_unless = ["不投诉"]
phrases = ["抱歉", "对不起"]
within_turns = 2
[[rules]]
id = "hold"
dimension = "d"
kind = "response"
deduction = 3
trigger_role = "agent"
trigger = ["请稍等"]
phrases = ["久等了", "感谢您的耐心等待"]
within_turns = 1
"#;

#[test]
fn response_answered_in_time_or_not() {
    let ins = pack(RESPONSE);
    let ok = run(
        &ins,
        &chat(&[
            ("customer", "你们太慢了"),
            ("agent", "嗯"),
            ("agent", "對不起"),
        ]),
    );
    assert!(ok.findings.is_empty(), "{:?}", ok.findings);
    let late = run(
        &ins,
        &chat(&[
            ("customer", "我要投訴"),
            ("agent", "嗯"),
            ("agent", "说"),
            ("agent", "抱歉"),
        ]),
    );
    assert_eq!(rules_hit(&late), vec!["apology"]);
    assert_eq!(late.findings[0].turn, Some(0));
    assert_eq!(late.findings[0].text.as_deref(), Some("投訴"));
    let never = run(
        &ins,
        &chat(&[("agent", "您好"), ("customer", "太 慢 了"), ("agent", "嗯")]),
    );
    assert_eq!(rules_hit(&never), vec!["apology"]);
    // The customer's last words, with no agent turn after them, cannot be answered.
    let last_words = run(&ins, &chat(&[("agent", "您好"), ("customer", "太 慢 了")]));
    assert!(last_words.findings.is_empty(), "{:?}", last_words.findings);
    let excused = run(
        &ins,
        &chat(&[("customer", "我不投诉，就问问"), ("agent", "好的")]),
    );
    assert!(excused.findings.is_empty(), "{:?}", excused.findings);
}

#[test]
fn hold_needs_thanks_on_return() {
    let ins = pack(RESPONSE);
    let ok = run(
        &ins,
        &chat(&[("agent", "请稍等"), ("agent", "让您久等了，查到了")]),
    );
    assert!(ok.findings.is_empty(), "{:?}", ok.findings);
    let bad = run(
        &ins,
        &chat(&[("agent", "請稍等"), ("customer", "好"), ("agent", "查到了")]),
    );
    assert_eq!(rules_hit(&bad), vec!["hold"]);
    // Thanks before the hold in the same turn does not count.
    let before = run(
        &ins,
        &chat(&[("agent", "久等了，请稍等"), ("agent", "好了")]),
    );
    assert_eq!(rules_hit(&before), vec!["hold"]);
}

const TIMING: &str = r#"
[[rules]]
id = "silence"
dimension = "d"
kind = "silence"
channels = ["phone"]
deduction = 3
max_ms = 10000
hold_phrases = ["请稍等"]
[[rules]]
id = "interrupt"
dimension = "d"
kind = "interrupt"
channels = ["phone"]
deduction = 2
min_overlap_ms = 500
[[rules]]
id = "speech_rate"
dimension = "d"
kind = "speech_rate"
channels = ["phone"]
deduction = 3
min_cpm = 60
max_cpm = 200
min_speech_ms = 5000
[[rules]]
id = "response_time"
dimension = "d"
kind = "response_time"
deduction = 5
max_wait_ms = 15000
max_reply_ms = 60000
[[rules]]
id = "ended_by"
dimension = "d"
kind = "ended_by"
channels = ["phone"]
deduction = 3
"#;

#[test]
fn silence_over_limit_unless_hold_notice() {
    let ins = pack(TIMING);
    let gap = run(
        &ins,
        &phone(
            "",
            &[
                ("customer", "查一下话费", 0, 3000),
                ("agent", "好的我看一下您的账户话费明细", 14000, 18000),
            ],
        ),
    );
    assert_eq!(rules_hit(&gap), vec!["silence"]);
    assert_eq!(gap.findings[0].value, Some(11000.0));
    let held = run(
        &ins,
        &phone(
            "",
            &[
                ("agent", "请稍等，我查一下", 0, 3000),
                ("agent", "感谢您的耐心等待，查到了您的话费", 20000, 26000),
            ],
        ),
    );
    assert!(
        !rules_hit(&held).contains(&"silence"),
        "{:?}",
        held.findings
    );
    // Customer thinking is not the agent's silence.
    let customer_pause = run(
        &ins,
        &phone(
            "",
            &[
                ("agent", "您看可以吗请问", 0, 3000),
                ("customer", "可以", 20000, 21000),
            ],
        ),
    );
    assert!(!rules_hit(&customer_pause).contains(&"silence"));
}

#[test]
fn timing_rules_without_timings_are_not_applicable() {
    let ins = pack(TIMING);
    let r = run(
        &ins,
        "{\"id\":\"x\",\"channel\":\"phone\",\"turns\":[{\"role\":\"agent\",\"text\":\"您好\"},{\"role\":\"customer\",\"text\":\"你好\"}]}",
    );
    assert!(r.findings.is_empty());
    let na: Vec<&str> = r.not_applicable.iter().map(|s| &**s).collect();
    assert_eq!(
        na,
        vec![
            "silence",
            "interrupt",
            "speech_rate",
            "response_time",
            "ended_by"
        ]
    );
}

#[test]
fn interrupt_when_agent_starts_well_before_customer_ends() {
    let ins = pack(TIMING);
    let r = run(
        &ins,
        &phone(
            "",
            &[
                ("customer", "我想问一下那个账单的事情", 0, 5000),
                ("agent", "您说您说", 3500, 5500),
            ],
        ),
    );
    assert_eq!(rules_hit(&r), vec!["interrupt"]);
    assert_eq!(r.findings[0].value, Some(1500.0));
    let small = run(
        &ins,
        &phone(
            "",
            &[
                ("customer", "我想问一下账单", 0, 5000),
                ("agent", "好的请讲", 4700, 6000),
            ],
        ),
    );
    assert!(!rules_hit(&small).contains(&"interrupt"));
}

#[test]
fn speech_rate_outside_band() {
    let ins = pack(TIMING);
    // 30 characters in 6 s = 300 per minute.
    let fast = "一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十";
    let r = run(&ins, &phone("", &[("agent", fast, 0, 6000)]));
    assert_eq!(rules_hit(&r), vec!["speech_rate"]);
    assert_eq!(r.findings[0].value, Some(300.0));
    // 30 characters in 15 s = 120 per minute.
    let r = run(&ins, &phone("", &[("agent", fast, 0, 15000)]));
    assert!(r.findings.is_empty());
    // Too little speech to judge.
    let r = run(&ins, &phone("", &[("agent", "您好", 0, 1000)]));
    assert!(r.not_applicable.iter().any(|s| &**s == "speech_rate"));
}

#[test]
fn response_time_wait_and_chat_replies() {
    let ins = pack(TIMING);
    let r = run(
        &ins,
        &phone(
            ",\"wait_ms\":20000,\"ended_by\":\"agent\"",
            &[("agent", "您好", 0, 1000)],
        ),
    );
    let mut hit = rules_hit(&r);
    hit.sort();
    assert_eq!(hit, vec!["ended_by", "response_time"]);
    let chat_late = "{\"id\":\"c\",\"channel\":\"chat\",\"wait_ms\":3000,\"turns\":[\
        {\"role\":\"customer\",\"text\":\"在吗\",\"start_ms\":0},\
        {\"role\":\"customer\",\"text\":\"有人吗\",\"start_ms\":30000},\
        {\"role\":\"agent\",\"text\":\"您好\",\"start_ms\":75000},\
        {\"role\":\"customer\",\"text\":\"查物流\",\"start_ms\":80000},\
        {\"role\":\"agent\",\"text\":\"好的\",\"start_ms\":95000}]}";
    let r = run(&ins, chat_late);
    assert_eq!(rules_hit(&r), vec!["response_time"]);
    assert_eq!(r.findings[0].turn, Some(2));
    assert_eq!(r.findings[0].value, Some(75000.0));
}

#[test]
fn regex_forbid_and_require() {
    let ins = pack(
        r#"
[[rules]]
id = "card_number"
dimension = "d"
kind = "regex"
deduction = 10
pattern = "\\d{16,19}"
[[rules]]
id = "job_number"
dimension = "d"
kind = "regex"
mode = "require"
first_turns = 1
deduction = 2
pattern = "工号\\d+"
"#,
    );
    let r = run(
        &ins,
        &chat(&[
            ("agent", "工号 1024 为您服务"),
            ("agent", "卡号是６２２２ ０２０２ ０２０２ ０２０２"),
        ]),
    );
    assert_eq!(rules_hit(&r), vec!["card_number"]);
    assert_eq!(
        r.findings[0].text.as_deref(),
        Some("６２２２ ０２０２ ０２０２ ０２０２")
    );
    let r = run(&ins, &chat(&[("agent", "您好")]));
    assert_eq!(rules_hit(&r), vec!["job_number"]);
}

/// Patterns that open with a class get a gate of the words they need
/// (`kefu_engine::required`); the gate must skip only turns that cannot
/// match, in both modes, and the evidence must be what the regex found.
#[test]
fn gated_regex_finds_the_same_as_the_regex() {
    let ins = pack(
        r#"
[[rules]]
id = "push_elsewhere"
dimension = "d"
kind = "regex"
role = "agent"
deduction = 5
pattern = '(?:^|[^帮给替为])(?P<hit>(?:你|您)(?:自己)?(?:再?去?打.{0,16}?(?:电话|热线)去|去?(?:找|问)(?:别人|别的部门|其他部门|其它部门)(?:去|吧)))'
[[rules]]
id = "greeting_number"
dimension = "d"
kind = "regex"
mode = "require"
role = "agent"
deduction = 2
pattern = '[你您]好.{0,6}(?:工号|编号)\d+'
"#,
    );
    let r = run(
        &ins,
        &chat(&[
            ("agent", "您好，工号1024为您服务"),
            ("agent", "我帮你打电话去问问"),
            ("customer", "你找别人去吧"),
            ("agent", "这个不归我们管，你自己打客服热线去。"),
            ("agent", "您好"),
            ("agent", "您去问其他部门吧"),
        ]),
    );
    assert_eq!(rules_hit(&r), vec!["push_elsewhere", "push_elsewhere"]);
    assert_eq!(r.findings[0].turn, Some(3));
    assert_eq!(r.findings[0].text.as_deref(), Some("你自己打客服热线去"));
    assert_eq!(r.findings[1].turn, Some(5));
    assert_eq!(r.findings[1].text.as_deref(), Some("您去问其他部门吧"));
    // No turn holds 工号 or 编号: the required greeting is missing.
    let r = run(&ins, &chat(&[("agent", "您好，很高兴为您服务")]));
    assert_eq!(rules_hit(&r), vec!["greeting_number"]);
}

#[test]
fn manual_items_are_listed_not_scored() {
    let ins = pack(
        "[[rules]]\nid = \"mandarin\"\nname = \"普通话\"\ndimension = \"d\"\nkind = \"manual\"\ndeduction = 5\n",
    );
    let r = run(&ins, &chat(&[("agent", "您好")]));
    assert_eq!(
        r.manual.iter().map(|s| &**s).collect::<Vec<_>>(),
        vec!["mandarin"]
    );
    assert_eq!(r.score, 100.0);
}

const DATED: &str = r#"
[[rules]]
id = "greeting_morning"
dimension = "d"
kind = "forbidden"
deduction = 2
phrases = ["早上好"]
when = { time = ["12:00", "24:00"] }
[[rules]]
id = "holiday_greeting"
dimension = "d"
kind = "holiday_greeting"
deduction = 3
[[rules.festivals]]
festival = "春节"
phrases = ["新年好", "春节快乐"]
days_after = 2
[[rules.festivals]]
festival = "中秋"
phrases = ["中秋快乐"]
"#;

fn dated(at: &str, text: &str) -> String {
    format!(
        "{{\"id\":\"d\",\"channel\":\"phone\",\"started_at\":\"{at}\",\"turns\":[{{\"role\":\"agent\",\"text\":\"{text}\"}}]}}"
    )
}

#[test]
fn time_of_day_uses_local_time() {
    let ins = pack(DATED);
    assert_eq!(
        rules_hit(&run(&ins, &dated("2026-10-12T14:00:00+08:00", "早上好"))),
        vec!["greeting_morning"]
    );
    assert!(run(&ins, &dated("2026-10-12T09:00:00+08:00", "早上好"))
        .findings
        .is_empty());
    // 02:00 UTC is 10:00 in Beijing: still morning.
    assert!(run(&ins, &dated("2026-10-12T10:00:00+08:00", "早上好"))
        .findings
        .is_empty());
    let no_time = run(
        &ins,
        "{\"id\":\"n\",\"channel\":\"chat\",\"turns\":[{\"role\":\"agent\",\"text\":\"早上好\"}]}",
    );
    assert!(no_time
        .not_applicable
        .iter()
        .any(|s| &**s == "greeting_morning"));
}

#[test]
fn festival_greetings_on_computed_lunar_dates() {
    let ins = pack(DATED);
    // Spring Festival 2026 is 17 February; the period here runs to the 19th.
    assert_eq!(
        rules_hit(&run(&ins, &dated("2026-02-17T10:00:00+08:00", "您好"))),
        vec!["holiday_greeting"]
    );
    assert_eq!(
        rules_hit(&run(&ins, &dated("2026-02-19T10:00:00+08:00", "您好"))),
        vec!["holiday_greeting"]
    );
    assert!(run(&ins, &dated("2026-02-20T10:00:00+08:00", "您好"))
        .findings
        .is_empty());
    assert!(run(
        &ins,
        &dated("2026-02-17T10:00:00+08:00", "新年好！请问有什么可以帮您")
    )
    .findings
    .is_empty());
    // Mid-Autumn 2027 is 15 September.
    assert_eq!(
        rules_hit(&run(&ins, &dated("2027-09-15T10:00:00+08:00", "您好"))),
        vec!["holiday_greeting"]
    );
    assert!(
        run(&ins, &dated("2027-09-15T10:00:00+08:00", "中秋快樂，您好"))
            .findings
            .is_empty()
    );
    assert!(run(&ins, &dated("2026-09-15T10:00:00+08:00", "您好"))
        .findings
        .is_empty());
}

#[test]
fn pack_errors_carry_lines() {
    let bad = "[pack]\nid = \"x\"\n\n[[rules]]\nid = \"a\"\ndimension = \"d\"\nkind = \"forbiden\"\n\n[[rules]]\nid = \"b\"\ndimension = \"d\"\nkind = \"required\"\nunless = [\"x\"]\nphrases = [\"y\"]\n\n[[rules]]\nid = \"c\"\ndimension = \"d\"\nkind = \"regex\"\npattern = \"(\"\n";
    let err = RulePack::from_toml(bad).unwrap_err();
    let lines: Vec<usize> = err.issues.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![4, 9, 16], "{err}");
    assert!(err.issues[0].message.contains("unknown kind `forbiden`"));
    assert!(err.issues[1]
        .message
        .contains("`unless` is not used by kind `required`"));
    assert!(err.issues[2].message.contains("does not compile"));
    let typo = RulePack::from_toml("[pack]\nid = \"x\"\n[[rules]]\nid = \"a\"\ndimension = \"d\"\nkind = \"manual\"\ndeducton = 3\n")
        .unwrap_err();
    assert_eq!(typo.issues[0].line, 7, "{typo}");
    assert!(typo.issues[0].message.contains("deducton"), "{typo}");
}

#[test]
fn overlapping_unordered_and_missing_timings_do_not_crash() {
    let ins = pack(&format!("{TIMING}{FORBIDDEN}{REQUIRED}{RESPONSE}"));
    let weird = phone(
        "",
        &[
            ("agent", "", 5000, 1000),
            ("customer", "投诉", 0, 0),
            ("agent", "不知道", 100, 90000),
            ("system", "转接", 40, 50),
            ("agent", "再见", 3, 4),
        ],
    );
    let r = run(&ins, &weird);
    assert!(r.score >= 0.0);
    let empty = run(&ins, "{\"id\":\"e\",\"channel\":\"phone\",\"turns\":[]}");
    assert_eq!(empty.score, 100.0);
}

#[test]
fn regex_anchors_are_per_turn_and_matches_never_cross_turns() {
    let ins = pack(
        r#"
[[rules]]
id = "starts_with_ok"
dimension = "d"
kind = "regex"
deduction = 1
pattern = "^好的"
[[rules]]
id = "three_then_hao"
dimension = "d"
kind = "regex"
deduction = 1
pattern = "[^x]{3}好"
"#,
    );
    let r = run(
        &ins,
        &chat(&[
            ("agent", "好的"),
            ("agent", "嗯好的"),
            ("agent", "ab"),
            ("agent", "c好"),
            ("agent", "abc好"),
        ]),
    );
    let hits: Vec<(&str, Option<usize>)> = r.findings.iter().map(|f| (&*f.rule, f.turn)).collect();
    assert_eq!(
        hits,
        vec![("starts_with_ok", Some(0)), ("three_then_hao", Some(4))]
    );
    assert_eq!(r.findings[1].text.as_deref(), Some("abc好"));
}

/// Issue 12 item 4: grades must agree with the pass mark.
#[test]
fn grades_that_straddle_the_pass_mark_are_rejected() {
    let pack = |grades: &str| {
        format!(
            "[pack]\nid = \"t\"\n[scoring]\npass_mark = 80\ngrades = [{grades}]\n\
             [[rules]]\nid = \"r\"\ndimension = \"d\"\nkind = \"ended_by\"\n"
        )
    };
    let bad = RulePack::from_toml(&pack(
        "{ name = \"良好\", min = 85 }, { name = \"合格\", min = 60 }, { name = \"不合格\", min = 0 }",
    ))
    .expect_err("合格 from 60 under pass mark 80");
    assert!(
        bad.issues
            .iter()
            .any(|i| i.message.contains("合格") && i.message.contains("pass_mark")),
        "{bad}"
    );
    RulePack::from_toml(&pack(
        "{ name = \"良好\", min = 85 }, { name = \"合格\", min = 80 }, { name = \"不合格\", min = 0 }",
    ))
    .expect("合格 from the pass mark");
    let default = RulePack::default_zh_cn().expect("default pack");
    let pass = default.scoring.pass_mark;
    assert_eq!(default.grade(pass), Some("合格"));
    assert_eq!(default.grade(pass - 0.5), Some("不合格"));
}
