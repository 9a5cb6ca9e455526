//! The CSV/TSV and chat-log importers on realistic files: every field of the
//! examples, encodings (GBK, BOM, UTF-16, mixed, invalid), custom columns
//! and role values, the errors operators see, random input, and that an
//! imported conversation inspects with the default pack.

use std::path::PathBuf;

use kefu_engine::{Channel, Conversation, Inspector, Role, RulePack, Scratch};
use kefu_formats::import::{chatlog, csv, CsvOptions, ImportError, ImportOptions, Imported};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> Result<Vec<u8>> {
    Ok(std::fs::read(root().join("examples/imports").join(name))?)
}

fn data(name: &str) -> Result<Vec<u8>> {
    Ok(std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/tabular")
            .join(name),
    )?)
}

fn opts() -> ImportOptions {
    ImportOptions::default()
}

fn turn_summary<'a>(c: &'a Conversation<'_>) -> Vec<(Role, &'a str, Option<u64>, Option<u64>)> {
    c.turns
        .iter()
        .map(|t| (t.role, t.text.as_ref(), t.start_ms, t.end_ms))
        .collect()
}

fn find<'a>(imported: &'a Imported, id: &str) -> &'a Conversation<'static> {
    imported
        .conversations
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("conversation {id} missing"))
}

fn reasons(errors: &[ImportError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.line, e.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// The fields of examples/imports/turns.csv, whatever its encoding.
fn check_turns_csv(imported: &Imported) {
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    let ids: Vec<&str> = imported
        .conversations
        .iter()
        .map(|c| c.id.as_ref())
        .collect();
    assert_eq!(ids, ["c-1001", "c-1002"], "file order of first appearance");

    let call = find(imported, "c-1001");
    assert_eq!(call.channel, Channel::Phone);
    assert_eq!(call.agent_id.as_deref(), Some("a-03"));
    assert_eq!(call.customer_id.as_deref(), Some("u-10231"));
    assert_eq!(
        call.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-10-01T09:15:02+08:00")
    );
    let turns = turn_summary(call);
    assert_eq!(
        turns.len(),
        8,
        "rows of c-1001 around c-1002's are appended"
    );
    assert_eq!(
        turns[0],
        (
            Role::System,
            "您好，欢迎致电星联通信客服热线，本次通话可能会被录音。",
            Some(0),
            Some(4800)
        )
    );
    assert_eq!(
        turns[1],
        (
            Role::Agent,
            "您好，星联通信，工号2163为您服务，请问有什么可以帮您？",
            Some(5600),
            Some(10200)
        )
    );
    assert_eq!(turns[4].1, "张伟，后四位3318");
    assert_eq!(
        turns[5],
        (
            Role::Agent,
            "感谢您的耐心等待，上个月有一笔\"视频会员\"包月费用 15 元，\n另外国际漫游 98 元，合计 113 元。",
            Some(25300),
            Some(36800)
        ),
        "quoted field with quotes, a comma and a line break"
    );
    assert_eq!(turns[7].0, Role::Agent);
    assert_eq!(turns[7].3, Some(46200));

    let chat = find(imported, "c-1002");
    assert_eq!(chat.channel, Channel::Chat, "no timings: a chat");
    assert_eq!(chat.agent_id.as_deref(), Some("a-21"));
    assert_eq!(chat.customer_id.as_deref(), Some("u-88120"));
    assert_eq!(
        chat.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-10-01T10:02:11+08:00")
    );
    let roles: Vec<Role> = chat.turns.iter().map(|t| t.role).collect();
    assert_eq!(
        roles,
        [
            Role::Customer,
            Role::Agent,
            Role::Customer,
            Role::Agent,
            Role::Customer,
            Role::Agent
        ]
    );
    assert!(chat
        .turns
        .iter()
        .all(|t| t.start_ms.is_none() && t.end_ms.is_none()));
    assert_eq!(chat.turns[5].text, "感谢您的咨询，祝您生活愉快，再见！");
}

#[test]
fn csv_example_field_by_field() -> Result {
    let bytes = example("turns.csv")?;
    check_turns_csv(&csv::read("turns.csv", &bytes, &opts()));
    Ok(())
}

#[test]
fn csv_with_excel_bom_and_crlf() -> Result {
    let plain = example("turns.csv")?;
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(String::from_utf8(plain)?.replace('\n', "\r\n").bytes());
    let decoded = csv::decode(&bytes).map_err(|e| e.reason)?;
    assert_eq!(decoded.encoding, "UTF-8 (BOM)");
    check_turns_csv(&csv::read("turns.csv", &bytes, &opts()));
    Ok(())
}

#[test]
fn csv_in_gbk_made_here_and_committed() -> Result {
    let utf8 = String::from_utf8(example("turns.csv")?)?;
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&utf8);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&gbk).is_err(), "really not UTF-8");
    assert_eq!(csv::decode(&gbk).map_err(|e| e.reason)?.encoding, "GB18030");
    check_turns_csv(&csv::read("turns-gbk.csv", &gbk, &opts()));

    // The committed file is real GBK bytes (with Windows line ends).
    let committed = example("turns-gbk.csv")?;
    assert!(std::str::from_utf8(&committed).is_err());
    check_turns_csv(&csv::read("turns-gbk.csv", &committed, &opts()));
    Ok(())
}

#[test]
fn csv_in_utf16_from_excel_unicode_text() -> Result {
    let utf8 = String::from_utf8(example("turns.csv")?)?;
    let tsv = utf8.replace(',', "\t");
    // Excel "Unicode text": UTF-16LE with a BOM, tab-separated.
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for unit in tsv.encode_utf16() {
        le.extend(unit.to_le_bytes());
        be.extend(unit.to_be_bytes());
    }
    // Quoted fields hold commas; turning those into tabs is fine for TSV.
    for bytes in [&le, &be] {
        let imported = csv::read("turns.txt", bytes, &opts());
        assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
        assert_eq!(imported.conversations.len(), 2);
        assert_eq!(find(&imported, "c-1001").turns.len(), 8);
    }
    // Without the BOM, the zero bytes still give UTF-16LE away.
    let imported = csv::read("turns.txt", &le[2..], &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    assert_eq!(find(&imported, "c-1002").turns[0].text, "在吗");
    Ok(())
}

#[test]
fn tsv_example_with_seconds_and_clock_times() -> Result {
    let bytes = example("turns.tsv")?;
    let imported = csv::read("examples/imports/turns.tsv", &bytes, &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    assert_eq!(imported.conversations.len(), 1);
    let call = &imported.conversations[0];
    assert_eq!(call.id, "call-77");
    assert_eq!(call.channel, Channel::Phone);
    assert_eq!(call.agent_id.as_deref(), Some("a-11"));
    assert_eq!(call.started_at, None);
    let turns = turn_summary(call);
    assert_eq!(turns.len(), 7);
    assert_eq!(
        turns[0],
        (
            Role::Agent,
            "您好，华兴银行信用卡中心，工号8027为您服务，请问有什么可以帮您？",
            Some(800),
            Some(6250)
        ),
        "A is the agent; 0.8 s is 800 ms"
    );
    assert_eq!(turns[1].0, Role::Customer, "B is the customer");
    assert_eq!((turns[2].2, turns[2].3), (Some(11_300), Some(16_900)));
    assert_eq!((turns[6].2, turns[6].3), (Some(35_800), Some(40_200)));
    Ok(())
}

#[test]
fn custom_columns_role_values_and_delimiter() {
    let text = "\
Ticket;Who;Said;From (s);To (s);Operator;Client;Opened
T-1;S;您好，请问有什么可以帮您？;0;2.5;op-9;cu-1;2026-02-17 08:30:00
T-1;C;新年好，我想改一下收货地址;3;6.25;op-9;cu-1;
T-1;S;好的，已经为您修改。;7;9;op-9;cu-1;
T-1;客户;谢谢;9.5;10;op-9;cu-1;
";
    let mut o = opts();
    o.csv = CsvOptions {
        id_column: Some("Ticket".into()),
        role_column: Some("who".into()),
        text_column: Some("Said".into()),
        start_column: Some("From (s)".into()),
        end_column: Some("To (s)".into()),
        agent_column: Some("Operator".into()),
        customer_column: Some("Client".into()),
        time_column: Some("Opened".into()),
        agent_values: vec!["S".into()],
        customer_values: vec!["C".into()],
        delimiter: None,
    };
    let imported = csv::read("x.csv", text.as_bytes(), &o);
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    let c = &imported.conversations[0];
    assert_eq!(c.id, "T-1");
    assert_eq!(c.agent_id.as_deref(), Some("op-9"));
    assert_eq!(c.customer_id.as_deref(), Some("cu-1"));
    assert_eq!(
        c.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-02-17T08:30:00+08:00")
    );
    let turns = turn_summary(c);
    assert_eq!(
        turns.iter().map(|t| (t.0, t.2, t.3)).collect::<Vec<_>>(),
        [
            (Role::Agent, Some(0), Some(2500)),
            (Role::Customer, Some(3000), Some(6250)),
            (Role::Agent, Some(7000), Some(9000)),
            (Role::Customer, Some(9500), Some(10_000)),
        ],
        "`(s)` in the header: whole numbers are seconds"
    );

    // A configured column that is not there is a file error naming it.
    o.csv.text_column = Some("Message".into());
    let imported = csv::read("x.csv", text.as_bytes(), &o);
    assert!(imported.conversations.is_empty());
    assert_eq!(imported.errors.len(), 1);
    assert_eq!(imported.errors[0].line, 0);
    assert!(imported.errors[0].reason.contains("\"Message\""));
    assert!(imported.errors[0].reason.contains("\"Said\""));
}

#[test]
fn absolute_timestamps_become_offsets() {
    let text = "\
会话ID,发送时间,角色,内容
w-1,2026-10-01 21:59:50,用户,在吗
w-1,2026-10-01 22:00:05,客服,您好，请问有什么可以帮您？
w-1,2026-10-01T22:01:00+08:00,用户,退款到哪了
w-2,1790000000,用户,你好
w-2,1790000012500,客服,您好
";
    let imported = csv::read("x.csv", text.as_bytes(), &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    let w1 = find(&imported, "w-1");
    assert_eq!(
        w1.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-10-01T21:59:50+08:00")
    );
    let starts: Vec<Option<u64>> = w1.turns.iter().map(|t| t.start_ms).collect();
    assert_eq!(starts, [Some(0), Some(15_000), Some(70_000)]);
    assert_eq!(
        w1.channel,
        Channel::Chat,
        "send times without durations: chat"
    );
    let w2 = find(&imported, "w-2");
    let starts: Vec<Option<u64>> = w2.turns.iter().map(|t| t.start_ms).collect();
    assert_eq!(starts, [Some(0), Some(12_500)], "Unix seconds and millis");
}

#[test]
fn channel_column_and_empty_ids_continue() {
    let text = "\
id,role,text,channel
c1,agent,您好,电话
,customer,你好
,agent,请讲
c2,customer,在吗,在线
";
    let imported = csv::read("x.csv", text.as_bytes(), &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    assert_eq!(find(&imported, "c1").channel, Channel::Phone);
    assert_eq!(find(&imported, "c1").turns.len(), 3, "merged-cell ids");
    assert_eq!(find(&imported, "c2").channel, Channel::Chat);
}

#[test]
fn no_id_column_means_one_conversation_named_after_the_file() {
    let text = "role,text\n客服,您好\n客户,你好\n";
    let imported = csv::read("dir/通话记录.csv", text.as_bytes(), &opts());
    assert_eq!(imported.conversations.len(), 1);
    assert_eq!(imported.conversations[0].id, "通话记录");
    let mut o = opts();
    o.default_id = Some("call-9".into());
    let imported = csv::read("dir/x.csv", text.as_bytes(), &o);
    assert_eq!(imported.conversations[0].id, "call-9");
}

#[test]
fn title_line_above_the_header_and_excel_sep_line() {
    let text = "通话记录导出 2026-10-01\n会话ID,角色,内容\nc1,客服,您好\n";
    let imported = csv::read("x.csv", text.as_bytes(), &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    assert_eq!(imported.conversations[0].turns[0].text, "您好");

    let text = "sep=;\nid;role;text\nc1;客服;您好，在的\nc1;客户;你好, 我想问\nc1;bogus;x\n";
    let imported = csv::read("x.csv", text.as_bytes(), &opts());
    assert_eq!(imported.conversations[0].turns[1].text, "你好, 我想问");
    assert_eq!(imported.errors.len(), 1);
    assert_eq!(
        imported.errors[0].line, 5,
        "line numbers count the sep= line"
    );
}

#[test]
fn missing_required_column_lists_the_columns_found() -> Result {
    let imported = csv::read("missing-role.csv", &data("missing-role.csv")?, &opts());
    assert!(imported.conversations.is_empty());
    assert_eq!(imported.errors.len(), 1);
    let e = &imported.errors[0];
    assert_eq!(e.line, 0);
    assert!(e.reason.contains("no role column"), "{}", e.reason);
    assert!(e.reason.contains("角色"), "names what it looked for");
    assert!(
        e.reason.contains("\"会话ID\", \"说话方\", \"内容\""),
        "{}",
        e.reason
    );

    let imported = csv::read("empty.csv", b"", &opts());
    assert_eq!(imported.errors.len(), 1);
    assert!(imported.errors[0].reason.contains("empty"));
    Ok(())
}

#[test]
fn unknown_roles_skip_the_row_and_name_the_value() -> Result {
    let imported = csv::read("unknown-role.csv", &data("unknown-role.csv")?, &opts());
    assert_eq!(imported.errors.len(), 2, "{}", reasons(&imported.errors));
    let e = &imported.errors[0];
    assert_eq!(e.line, 3);
    assert!(e.reason.contains("unknown role \"顾问\""), "{}", e.reason);
    assert!(e.reason.contains("客服") && e.reason.contains("客户"));
    assert_eq!(imported.errors[1].line, 5);
    assert!(imported.errors[1].reason.contains("empty role"));
    let c = &imported.conversations[0];
    assert_eq!(turn_summary(c).len(), 2, "other rows go through");
    assert_eq!(c.turns[1].text, "我想查话费");

    // Told that 顾问 is an agent, the row reads.
    let mut o = opts();
    o.csv.agent_values = vec!["顾问".into()];
    let imported = csv::read("unknown-role.csv", &data("unknown-role.csv")?, &o);
    assert_eq!(imported.errors.len(), 1);
    assert_eq!(imported.conversations[0].turns[1].role, Role::Agent);
    Ok(())
}

#[test]
fn bad_times_are_reported_and_the_turn_kept() -> Result {
    let imported = csv::read("bad-times.csv", &data("bad-times.csv")?, &opts());
    assert_eq!(imported.errors.len(), 2, "{}", reasons(&imported.errors));
    assert_eq!(imported.errors[0].line, 3);
    assert!(imported.errors[0].reason.contains("bad time \"abc\""));
    assert!(imported.errors[0].reason.contains("start_ms"));
    assert_eq!(imported.errors[1].line, 4);
    assert!(imported.errors[1].reason.contains("negative"));
    let turns = turn_summary(&imported.conversations[0]);
    assert_eq!(turns.len(), 4);
    assert_eq!(turns[1], (Role::Customer, "时间写错了", None, Some(4000)));
    assert_eq!(turns[3], (Role::Customer, "好的", Some(5200), Some(6100)));
    Ok(())
}

#[test]
fn truncated_last_lines() -> Result {
    let imported = csv::read("t.csv", &data("truncated-quote.csv")?, &opts());
    assert_eq!(imported.errors.len(), 1, "{}", reasons(&imported.errors));
    assert_eq!(imported.errors[0].line, 4);
    assert!(imported.errors[0].reason.contains("truncated"));
    assert_eq!(imported.conversations[0].turns.len(), 2);

    let imported = csv::read("t.csv", &data("truncated-line.csv")?, &opts());
    assert_eq!(imported.errors.len(), 0, "{}", reasons(&imported.errors));
    // All fields present: the cut end time still reads (nothing tells).
    assert_eq!(imported.conversations[0].turns[1].end_ms, Some(3));

    let cut = b"conversation_id,role,text,start_ms,end_ms\nc1,agent,hi,0,10\nc1,customer";
    let imported = csv::read("t.csv", cut, &opts());
    assert_eq!(imported.errors.len(), 1, "{}", reasons(&imported.errors));
    assert_eq!(imported.errors[0].line, 3);
    assert!(imported.errors[0].reason.contains("truncated"));

    // Cut in the middle of a UTF-8 character.
    let text = "id,role,text\nc1,客服,您好\nc1,客户,你好";
    let bytes = &text.as_bytes()[..text.len() - 1];
    let imported = csv::read("t.csv", bytes, &opts());
    assert_eq!(imported.conversations[0].turns.len(), 2);
    assert_eq!(imported.errors.len(), 1, "{}", reasons(&imported.errors));
    assert_eq!(imported.errors[0].line, 3);
    Ok(())
}

#[test]
fn mixed_and_invalid_encodings() -> Result {
    let bytes = data("mixed-encoding.csv")?;
    let decoded = csv::decode(&bytes).map_err(|e| e.reason)?;
    assert_eq!(decoded.encoding, "UTF-8 and GB18030");
    let imported = csv::read("mixed.csv", &bytes, &opts());
    let c = &imported.conversations[0];
    let texts: Vec<&str> = c.turns.iter().map(|t| t.text.as_ref()).collect();
    assert_eq!(
        texts,
        [
            "您好，这一行是 UTF-8",
            "这一行是 GBK 编码",
            "最后一行又是 UTF-8"
        ]
    );
    // The undecodable line: one encoding error, and its role is unknown.
    assert_eq!(imported.errors.len(), 2, "{}", reasons(&imported.errors));
    assert!(imported.errors.iter().all(|e| e.line == 4));
    assert!(imported.errors[0]
        .reason
        .contains("neither UTF-8 nor GB18030"));

    // Binary: a file-level error, nothing read.
    let binary: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80)
        .collect();
    for read in [csv::read, chatlog::read] {
        let imported = read("blob.bin", &binary, &opts());
        assert!(imported.conversations.is_empty());
        assert_eq!(imported.errors.len(), 1, "{}", reasons(&imported.errors));
        assert_eq!(imported.errors[0].line, 0);
        assert!(imported.errors[0].reason.contains("not a text file"));
    }
    Ok(())
}

#[test]
fn detection() -> Result {
    assert!(csv::detect(&example("turns.csv")?));
    assert!(csv::detect(&example("turns-gbk.csv")?));
    assert!(csv::detect(&example("turns.tsv")?));
    assert!(!csv::detect(&example("taobao-chat.txt")?));
    assert!(!csv::detect(br#"{"id":"c1","channel":"chat","turns":[]}"#));
    assert!(!csv::detect(b"a,b,c\n1,2,3\n"));
    let chat = example("taobao-chat.txt")?;
    assert!(chatlog::detect(&chat));
    assert!(chatlog::detect(&chat[..700]), "a head cut mid-character");
    assert!(!chatlog::detect(&example("turns.csv")?));
    assert!(!chatlog::detect(&example("turns.tsv")?));
    assert!(!chatlog::detect(b"[{\"id\":1}]"));
    Ok(())
}

// ---------------------------------------------------------------------------
// Chat logs
// ---------------------------------------------------------------------------

#[test]
fn chat_log_example_field_by_field() -> Result {
    let bytes = example("taobao-chat.txt")?;
    let imported = chatlog::read("examples/imports/taobao-chat.txt", &bytes, &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    let ids: Vec<&str> = imported
        .conversations
        .iter()
        .map(|c| c.id.as_ref())
        .collect();
    assert_eq!(
        ids,
        [
            "taobao-chat#1",
            "taobao-chat#2",
            "taobao-chat#3",
            "taobao-chat#4"
        ],
        "split by the separator, a 3-hour gap, and a new customer"
    );
    for c in &imported.conversations {
        assert_eq!(c.channel, Channel::Chat);
    }

    let first = &imported.conversations[0];
    assert_eq!(first.agent_id.as_deref(), Some("云朵旗舰店:小美"));
    assert_eq!(first.agent_name.as_deref(), Some("小美"));
    assert_eq!(first.customer_id.as_deref(), Some("tb_lily88"));
    assert_eq!(
        first.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-10-01T09:15:02+08:00")
    );
    let turns = turn_summary(first);
    assert_eq!(turns.len(), 7);
    assert_eq!(
        turns[0],
        (Role::Customer, "在吗？我的快递怎么还没到", Some(0), None)
    );
    assert_eq!(
        turns[1],
        (
            Role::Agent,
            "亲，在的，请问有什么可以帮您？",
            Some(38_000),
            None
        )
    );
    assert_eq!(
        turns[4],
        (
            Role::Agent,
            "感谢您的耐心等待，您的包裹已经到了本市转运中心，\n预计明天上午派送。\n物流单号：SF1234567890",
            Some(198_000),
            None
        ),
        "continuation lines, one with a colon, join with newlines"
    );
    assert_eq!(
        turns[6].1,
        "不客气哦，请问还有其他问题吗？祝您生活愉快，再见！"
    );

    let second = &imported.conversations[1];
    assert_eq!(second.agent_id.as_deref(), Some("云朵旗舰店:阿杰"));
    assert_eq!(second.customer_id.as_deref(), Some("王先生_2019"));
    assert_eq!(
        second.started_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-10-01T14:02:33+08:00")
    );
    let turns = turn_summary(second);
    assert_eq!(turns.len(), 6);
    assert_eq!(
        turns[1],
        (
            Role::Agent,
            "您好，很高兴为您服务。\n这款有 4XL 和 5XL，您平时穿多大码呢？",
            Some(28_000),
            None
        )
    );
    assert_eq!(turns[5].1, "感谢您的咨询，祝您生活愉快，再见！");

    let third = &imported.conversations[2];
    assert_eq!(third.customer_id.as_deref(), Some("小鱼儿爱吃鱼"));
    assert_eq!(third.turns.len(), 2);
    let fourth = &imported.conversations[3];
    assert_eq!(fourth.customer_id.as_deref(), Some("tb_lily88"));
    assert_eq!(fourth.agent_id.as_deref(), Some("云朵旗舰店:小美"));
    assert_eq!(
        turn_summary(fourth).iter().map(|t| t.2).collect::<Vec<_>>(),
        [Some(0), Some(38_000)]
    );
    Ok(())
}

#[test]
fn chat_log_in_gbk_with_bom_less_crlf() -> Result {
    let utf8 = String::from_utf8(example("taobao-chat.txt")?)?.replace('\n', "\r\n");
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&utf8);
    assert!(!unmappable);
    let from_gbk = chatlog::read("taobao-chat.txt", &gbk, &opts());
    let from_utf8 = chatlog::read("taobao-chat.txt", utf8.as_bytes(), &opts());
    assert!(from_gbk.errors.is_empty(), "{}", reasons(&from_gbk.errors));
    assert_eq!(from_gbk.conversations, from_utf8.conversations);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(utf8.bytes());
    let from_bom = chatlog::read("taobao-chat.txt", &bom, &opts());
    assert_eq!(from_bom.conversations, from_utf8.conversations);
    Ok(())
}

#[test]
fn chat_log_agent_names_and_undecidable_agents() -> Result {
    let bytes = data("no-agent.txt")?;
    let imported = chatlog::read("no-agent.txt", &bytes, &opts());
    assert!(imported.conversations.is_empty());
    assert_eq!(imported.errors.len(), 1);
    let e = &imported.errors[0];
    assert_eq!(e.line, 0);
    assert!(e.reason.contains("--agent-name"), "{}", e.reason);
    assert!(e.reason.contains("张三 ×1") && e.reason.contains("李四 ×1"));

    let mut o = opts();
    o.agent_names = vec!["李四".into()];
    let imported = chatlog::read("no-agent.txt", &bytes, &o);
    assert!(imported.errors.is_empty());
    let c = &imported.conversations[0];
    assert_eq!(
        (c.turns[0].role, c.turns[1].role),
        (Role::Customer, Role::Agent)
    );
    assert_eq!(c.agent_id.as_deref(), Some("李四"));

    // Names given: heuristics are off, and a name that matches nobody says so.
    o.agent_names = vec!["王五".into()];
    let imported = chatlog::read("no-agent.txt", &bytes, &o);
    assert!(imported.errors[0].reason.contains("王五"));

    // A configured shop prefix makes its sub-accounts agents.
    let text = "2026-10-01 09:00:00 tb_1:在吗\n2026-10-01 09:00:09 某店:小王:在的\n";
    o.agent_names = vec!["某店".into()];
    let imported = chatlog::read("x.txt", text.as_bytes(), &o);
    let c = &imported.conversations[0];
    assert_eq!(c.turns[1].role, Role::Agent);
    assert_eq!(c.turns[1].text, "在的");
    Ok(())
}

#[test]
fn chat_log_bots_transfers_and_preamble() {
    let text = "\
聊天记录导出
导出时间：2026-10-02

2026-10-01 09:00:00 tb_9:退货
2026-10-01 09:00:01 店小蜜:您好，我是智能助手店小蜜，正在为您转接人工客服
2026-10-01 09:00:30 某某专营店:售前小李:您好，请问有什么可以帮您？
2026-10-01 09:01:10 某某专营店:售后阿芳:您好，我是售后，这边帮您处理退货


2026-10-01 09:01:30 tb_9:好

";
    let imported = chatlog::read("x.txt", text.as_bytes(), &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    assert_eq!(imported.conversations.len(), 1);
    let c = &imported.conversations[0];
    let roles: Vec<Role> = c.turns.iter().map(|t| t.role).collect();
    assert_eq!(
        roles,
        [
            Role::Customer,
            Role::System,
            Role::Agent,
            Role::Agent,
            Role::Customer
        ]
    );
    assert_eq!(c.agent_id.as_deref(), Some("某某专营店:售前小李"));
    assert!(c.turns[2].meta.is_empty());
    assert_eq!(
        c.turns[3].meta.get("sender").and_then(|v| v.as_str()),
        Some("某某专营店:售后阿芳"),
        "the agent after a transfer is named on the turn"
    );
    assert_eq!(c.turns[3].text, "您好，我是售后，这边帮您处理退货");
}

#[test]
fn chat_log_other_layouts() {
    // Stamp then sender alone on a line; bracketed stamps; full-width colon;
    // an offset in the stamp; Windows line ends.
    let text = "2026-10-01 09:15:02 tb_77\r\n在吗\r\n第二行\r\n\r\n\
                客服小周[2026-10-01 09:15:30]：\r\n您好，在的\r\n\
                [2026/10/01 01:16:00Z] tb_77：好的\r\n";
    let imported = chatlog::read("log.txt", text.as_bytes(), &opts());
    assert!(imported.errors.is_empty(), "{}", reasons(&imported.errors));
    let c = &imported.conversations[0];
    assert_eq!(c.id, "log#1");
    assert_eq!(
        turn_summary(c),
        [
            (Role::Customer, "在吗\n第二行", Some(0), None),
            (Role::Agent, "您好，在的", Some(28_000), None),
            (Role::Customer, "好的", Some(58_000), None),
        ]
    );
}

#[test]
fn chat_log_without_messages() {
    let imported = chatlog::read("x.txt", "hello\nworld\n".as_bytes(), &opts());
    assert!(imported.conversations.is_empty());
    assert!(imported.errors[0].reason.contains("no chat messages"));
}

// ---------------------------------------------------------------------------
// Robustness and the engine
// ---------------------------------------------------------------------------

/// xorshift64*: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn random_bytes_and_truncations_never_panic() -> Result {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut seeds = vec![
        example("turns.csv")?,
        example("turns-gbk.csv")?,
        example("turns.tsv")?,
        example("taobao-chat.txt")?,
        data("mixed-encoding.csv")?,
        data("truncated-quote.csv")?,
    ];
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            String::from_utf8(example("turns.csv")?)?
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        )
        .collect();
    seeds.push(utf16);
    let alphabet: &[u8] = b",;\t\"\n\r:-0123456789 ";
    let cjk = "客服客户：会话---- 2026-10-01 09:15:02".as_bytes();
    let all_opts = {
        let mut o = opts();
        o.agent_names = vec!["店小二".into(), "云朵旗舰店".into()];
        o.csv.agent_values = vec!["A".into()];
        o
    };
    let mut checked = 0;
    for round in 0..3000 {
        let seed = &seeds[round % seeds.len()];
        let mut bytes: Vec<u8> = match round % 4 {
            // Truncated anywhere (mid-character, mid-quote, mid-BOM).
            0 => seed[..rng.below(seed.len() + 1)].to_vec(),
            // A few bytes flipped or inserted.
            1 => {
                let mut b = seed.clone();
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(b.len());
                    match rng.below(3) {
                        0 if !b.is_empty() => b[at] = rng.next() as u8,
                        1 => b.insert(at, alphabet[rng.below(alphabet.len())]),
                        _ => b.insert(at, cjk[rng.below(cjk.len())]),
                    }
                }
                b
            }
            // Pure noise, structured noise.
            2 => (0..rng.below(600)).map(|_| rng.next() as u8).collect(),
            _ => (0..rng.below(600))
                .map(|_| {
                    if rng.below(2) == 0 {
                        alphabet[rng.below(alphabet.len())]
                    } else {
                        cjk[rng.below(cjk.len())]
                    }
                })
                .collect(),
        };
        if round % 7 == 0 {
            bytes.splice(0..0, [0xEF, 0xBB, 0xBF]);
        }
        for o in [&opts(), &all_opts] {
            for read in [csv::read, chatlog::read] {
                let imported = read("fuzz.txt", &bytes, o);
                for c in &imported.conversations {
                    assert!(!c.id.is_empty());
                }
            }
        }
        let _ = csv::detect(&bytes);
        let _ = chatlog::detect(&bytes);
        checked += 1;
    }
    assert_eq!(checked, 3000);
    Ok(())
}

#[test]
fn imported_conversations_inspect_with_the_default_pack() -> Result {
    let inspector = Inspector::new(RulePack::default_zh_cn()?)?;
    let mut scratch = Scratch::default();
    let chat = chatlog::read("taobao-chat.txt", &example("taobao-chat.txt")?, &opts());
    let table = csv::read("turns.csv", &example("turns.csv")?, &opts());
    let tsv = csv::read("turns.tsv", &example("turns.tsv")?, &opts());
    let mut inspected = 0;
    for c in chat
        .conversations
        .iter()
        .chain(&table.conversations)
        .chain(&tsv.conversations)
    {
        let result = inspector.inspect(c, &mut scratch);
        assert_eq!(result.id, c.id);
        assert_eq!(result.channel, c.channel);
        assert!((0.0..=100.0).contains(&result.score));
        // Findings point into the imported text.
        for f in &result.findings {
            if let (Some(t), Some([s, e])) = (f.turn, f.span) {
                let text: String = c.turns[t].text.chars().skip(s).take(e - s).collect();
                assert_eq!(Some(text.as_str()), f.text.as_deref());
            }
        }
        inspected += 1;
    }
    assert_eq!(inspected, 7);
    // The well-behaved second chat passes.
    let second = inspector.inspect(&chat.conversations[1], &mut scratch);
    assert!(second.passed, "{:#?}", second.findings);
    // And the records survive the native format unchanged.
    for c in &chat.conversations {
        let line = serde_json::to_string(c)?;
        let back: Conversation<'_> = serde_json::from_str(&line)?;
        assert_eq!(&back, c);
    }
    Ok(())
}
