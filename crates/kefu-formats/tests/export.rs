//! Exports read back: workbooks with calamine (values, types, styles) and
//! their XML (frozen header, autofilter, column widths), CSV with the csv
//! crate, JSON Lines with serde_json.

use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{open_workbook, Data, Reader, Xlsx};
use chrono::{DateTime, FixedOffset, NaiveDate};
use kefu_engine::{Conversation, Inspection, Inspector, RulePack, Scratch};
use kefu_formats::export::{
    agents_table, conversations_table, errors_table, findings_table, rules_table, write_csv,
    write_jsonl, write_xlsx, Cell, Column, ColumnKind, ExportError, Lang, Table, XlsxReport,
};
use kefu_formats::summary::Summary;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GOLDEN: &str = include_str!("../../kefu-engine/tests/golden/conversations.jsonl");

/// The default pack over the golden conversations whose 0-based index
/// `pick` accepts.
fn inspections(
    pick: impl Fn(usize) -> bool,
) -> Result<Vec<Inspection>, Box<dyn std::error::Error>> {
    let inspector = Inspector::new(RulePack::default_zh_cn()?)?;
    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    for (i, line) in GOLDEN.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        if pick(i) {
            let conv: Conversation<'_> = serde_json::from_str(line)?;
            out.push(inspector.inspect(&conv, &mut scratch));
        }
    }
    Ok(out)
}

/// A few clean conversations, a run with findings of every kind, and one
/// without agent or start time (empty cells).
fn sample() -> Result<Vec<Inspection>, Box<dyn std::error::Error>> {
    let mut v = inspections(|i| i < 3 || (20..=40).contains(&i))?;
    if let Some(ins) = v.get_mut(1) {
        ins.agent_id = None;
        ins.agent_name = None;
        ins.started_at = None;
        ins.grade = None;
    }
    Ok(v)
}

fn summary_of(results: &[Inspection]) -> Summary {
    let mut s = Summary::default();
    for r in results {
        s.add(r);
    }
    s
}

/// A fresh directory under Cargo's temporary directory for one test's files
/// (kept after the run for a look, replaced by the next run).
fn temp_dir(test: &str) -> Result<PathBuf, std::io::Error> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kefu-export")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Excel's serial number for the wall-clock time of `t`.
fn excel_serial(t: &DateTime<FixedOffset>) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("valid epoch");
    (t.naive_local() - epoch).num_milliseconds() as f64 / 86_400_000.0
}

/// Checks that a cell read back by calamine is `expected`, with its type.
fn assert_cell(got: &Data, expected: &Cell, lang: Lang, at: &str) {
    match expected {
        Cell::Text(s) => assert_eq!(got, &Data::String(s.clone()), "{at}"),
        Cell::Int(n) => match got {
            Data::Float(f) => assert_eq!(*f, *n as f64, "{at}"),
            Data::Int(i) => assert_eq!(i, n, "{at}"),
            other => panic!("{at}: expected the number {n}, got {other:?}"),
        },
        Cell::Num(v) | Cell::Percent(v) => match got {
            Data::Float(f) => assert_eq!(f, v, "{at}"),
            Data::Int(i) => assert_eq!(*i as f64, *v, "{at}"),
            other => panic!("{at}: expected the number {v}, got {other:?}"),
        },
        Cell::Time(t) => match got {
            Data::DateTime(dt) => {
                assert!(dt.is_datetime(), "{at}");
                assert!(
                    (dt.as_f64() - excel_serial(t)).abs() < 1e-8,
                    "{at}: {} vs {t}",
                    dt.as_f64()
                );
            }
            other => panic!("{at}: expected a date-time {t}, got {other:?}"),
        },
        Cell::Bool(b) => assert_eq!(got, &Data::String(lang.yes_no(*b).into()), "{at}"),
        Cell::Empty => assert_eq!(got, &Data::Empty, "{at}"),
    }
}

/// Reads sheet `name` and checks its header and every cell against `table`.
fn assert_sheet(
    wb: &mut Xlsx<std::io::BufReader<std::fs::File>>,
    name: &str,
    table: &Table,
    lang: Lang,
) {
    let range = wb
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("sheet {name}: {e}"));
    assert_eq!(range.start(), Some((0, 0)), "sheet {name} starts at A1");
    let (height, width) = range.get_size();
    assert_eq!(height, table.rows.len() + 1, "rows of {name}");
    assert_eq!(width, table.columns.len(), "columns of {name}");
    let rows: Vec<&[Data]> = range.rows().collect();
    let header: Vec<String> = rows[0].iter().map(|d| d.to_string()).collect();
    let expected: Vec<&str> = table.columns.iter().map(|c| c.header(lang)).collect();
    assert_eq!(header, expected, "header of {name}");
    for (r, row) in table.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{name}!R{}C{} ({})", r + 2, c + 1, table.columns[c].key);
            assert_cell(&rows[r + 1][c], cell, lang, &at);
        }
    }
}

/// The XML of the `n`-th worksheet (1-based) of a workbook.
fn sheet_xml(path: &Path, n: usize) -> Result<String, Box<dyn std::error::Error>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut xml = String::new();
    zip.by_name(&format!("xl/worksheets/sheet{n}.xml"))?
        .read_to_string(&mut xml)?;
    Ok(xml)
}

/// Column widths declared in a sheet's XML, by 1-based column.
fn column_widths(xml: &str) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    for part in xml.split("<col ").skip(1) {
        let attr = |name: &str| -> Option<&str> {
            let start = part.find(&format!("{name}=\""))? + name.len() + 2;
            let end = part[start..].find('"')? + start;
            Some(&part[start..end])
        };
        if let (Some(min), Some(max), Some(width)) = (attr("min"), attr("max"), attr("width")) {
            if let (Ok(min), Ok(max), Ok(width)) = (
                min.parse::<usize>(),
                max.parse::<usize>(),
                width.parse::<f64>(),
            ) {
                for c in min..=max {
                    out.push((c, width));
                }
            }
        }
    }
    out
}

fn all_tables(results: &[Inspection], errors: &[(String, String)]) -> Vec<Table> {
    let summary = summary_of(results);
    vec![
        conversations_table(results),
        findings_table(results),
        agents_table(&summary),
        rules_table(&summary),
        errors_table(errors),
    ]
}

#[test]
fn xlsx_round_trips_every_cell_in_both_languages() -> TestResult {
    let results = sample()?;
    let errors = vec![("input.jsonl:7".to_string(), "缺少字段 id".to_string())];
    let tables = all_tables(&results, &errors);
    assert!(tables[1].rows.len() > 5, "the golden set yields findings");
    assert!(
        tables[0].rows.iter().any(|r| matches!(r[4], Cell::Time(_))),
        "some conversations have a start time"
    );
    let dir = temp_dir("roundtrip")?;
    for (lang, names) in [
        (
            Lang::Zh,
            ["会话", "问题明细", "坐席汇总", "规则汇总", "错误"],
        ),
        (
            Lang::En,
            ["Conversations", "Findings", "Agents", "Rules", "Errors"],
        ),
    ] {
        let path = dir.join(format!("report-{lang}.xlsx"));
        write_xlsx(&tables, lang, &path)?;
        let mut wb: Xlsx<_> = open_workbook(&path)?;
        assert_eq!(wb.sheet_names(), names);
        for (table, name) in tables.iter().zip(names) {
            assert_sheet(&mut wb, name, table, lang);
        }
        // Headers are bold; percentages and times carry their formats.
        let styles = wb.worksheet_style(names[2])?;
        let bold = styles
            .get((0, 0))
            .and_then(|s| s.font.as_ref())
            .is_some_and(|f| f.is_bold());
        assert!(bold, "header of {} is bold", names[2]);
        let pct = styles
            .get((1, 4))
            .and_then(|s| s.number_format.as_ref())
            .map(|f| f.format_code.clone());
        assert_eq!(pct.as_deref(), Some("0.0%"));
        // Frozen header, autofilter over the data, fitted widths.
        for (n, table) in tables.iter().enumerate() {
            let xml = sheet_xml(&path, n + 1)?;
            assert!(
                xml.contains(
                    r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
                ),
                "sheet {} has a frozen header: {}",
                n + 1,
                &xml[..xml.len().min(600)]
            );
            let last_col = (b'A' + table.columns.len() as u8 - 1) as char;
            let filter = format!(
                "<autoFilter ref=\"A1:{last_col}{}\"/>",
                table.rows.len() + 1
            );
            assert!(xml.contains(&filter), "sheet {} has {filter}", n + 1);
            let widths = column_widths(&xml);
            assert_eq!(widths.len(), table.columns.len(), "sheet {}", n + 1);
            assert!(
                widths.iter().all(|&(_, w)| (4.0..61.0).contains(&w)),
                "{widths:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn column_widths_count_cjk_double_and_cap_at_60() -> TestResult {
    let mut t = Table::new(
        "宽度",
        "Widths",
        vec![
            Column::new("a", "A", "A", ColumnKind::Text),
            Column::new("b", "B", "B", ColumnKind::Text),
            Column::new("c", "C", "C", ColumnKind::Text),
        ],
    );
    t.rows.push(vec![
        Cell::text("abcdefghijklmnopqrst"),
        Cell::text("一二三四五六七八九十一二三四五六七八九十"),
        Cell::text("长".repeat(500)),
    ]);
    let dir = temp_dir("widths")?;
    let path = dir.join("w.xlsx");
    write_xlsx(&[t], Lang::Zh, &path)?;
    let widths = column_widths(&sheet_xml(&path, 1)?);
    let w = |c: usize| {
        widths
            .iter()
            .find(|(n, _)| *n == c)
            .map(|(_, w)| *w)
            .unwrap_or(0.0)
    };
    // Excel stores a little padding on top of the width asked for.
    assert!((22.0..23.0).contains(&w(1)), "ASCII: {}", w(1));
    assert!((42.0..43.0).contains(&w(2)), "CJK doubles: {}", w(2));
    assert!((60.0..61.0).contains(&w(3)), "capped: {}", w(3));
    Ok(())
}

#[test]
fn csv_has_bom_and_parses_back() -> TestResult {
    let results = sample()?;
    let summary = summary_of(&results);
    for table in [
        conversations_table(&results),
        findings_table(&results),
        agents_table(&summary),
        rules_table(&summary),
    ] {
        for lang in [Lang::Zh, Lang::En] {
            let mut out = Vec::new();
            write_csv(&table, lang, &mut out)?;
            assert!(out.starts_with("\u{feff}".as_bytes()), "BOM first");
            let text = std::str::from_utf8(&out[3..])?;
            assert!(text.contains("\r\n"), "CRLF line ends");
            let mut r = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(text.as_bytes());
            let records: Vec<csv::StringRecord> = r.records().collect::<Result<_, _>>()?;
            assert_eq!(records.len(), table.rows.len() + 1);
            let header: Vec<&str> = records[0].iter().collect();
            for (h, c) in header.iter().zip(&table.columns) {
                match c.kind {
                    ColumnKind::Percent => {
                        assert_eq!(
                            *h,
                            format!("{}{}", c.header(lang), lang.pick("(%)", " (%)"))
                        )
                    }
                    _ => assert_eq!(*h, c.header(lang)),
                }
            }
            for (row, rec) in table.rows.iter().zip(&records[1..]) {
                assert_eq!(rec.len(), table.columns.len());
                for (cell, field) in row.iter().zip(rec.iter()) {
                    match cell {
                        Cell::Text(s) => assert_eq!(field, s),
                        Cell::Int(n) => assert_eq!(field.parse::<i64>()?, *n),
                        Cell::Num(v) => assert_eq!(field.parse::<f64>()?, *v),
                        Cell::Percent(p) => {
                            assert!((field.parse::<f64>()? - p * 100.0).abs() < 1e-9, "{field}")
                        }
                        Cell::Time(t) => {
                            assert_eq!(field, t.format("%Y-%m-%d %H:%M:%S").to_string())
                        }
                        Cell::Bool(b) => assert_eq!(field, lang.yes_no(*b)),
                        Cell::Empty => assert_eq!(field, ""),
                    }
                }
            }
        }
    }
    Ok(())
}

#[test]
fn jsonl_keys_and_types() -> TestResult {
    let results = sample()?;
    let table = conversations_table(&results);
    let mut out = Vec::new();
    write_jsonl(&table, &mut out)?;
    let lines: Vec<&str> = std::str::from_utf8(&out)?.lines().collect();
    assert_eq!(lines.len(), results.len());
    for (line, ins) in lines.iter().zip(&results) {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let obj = v.as_object().ok_or("an object per line")?;
        let keys: Vec<&String> = obj.keys().collect();
        let mut expected: Vec<&String> = table.columns.iter().map(|c| &c.key).collect();
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(v["id"], serde_json::json!(ins.id));
        assert_eq!(v["passed"], serde_json::json!(ins.passed));
        assert_eq!(v["findings"], serde_json::json!(ins.findings.len()));
        assert_eq!(v["score"].as_f64(), Some(ins.score));
        match ins.started_at {
            Some(t) => assert_eq!(v["started_at"], serde_json::json!(t.to_rfc3339())),
            None => assert!(v["started_at"].is_null()),
        }
    }
    let summary = summary_of(&results);
    let mut out = Vec::new();
    write_jsonl(&agents_table(&summary), &mut out)?;
    let first: serde_json::Value =
        serde_json::from_str(std::str::from_utf8(&out)?.lines().next().ok_or("a row")?)?;
    let rate = first["pass_rate"].as_f64().ok_or("a number")?;
    assert!(
        (0.0..=1.0).contains(&rate),
        "pass rate is a fraction: {rate}"
    );
    Ok(())
}

#[test]
fn awkward_text_survives() -> TestResult {
    let texts = [
        "您好，请问有什么可以帮您？",
        "繁體中文：請稍候",
        "含,逗号\"引号\"\n和换行",
        "=HYPERLINK(\"http://x\")",
        "emoji 😀 和 𠮷",
        "控制\u{1}字符",
        "-",
    ];
    let mut t = Table::new(
        "文本/测试:[1]",
        "Text",
        vec![Column::new("text", "文本", "Text", ColumnKind::Text)],
    );
    t.rows = texts.iter().map(|s| vec![Cell::text(*s)]).collect();
    let long = "长".repeat(40_000);
    t.rows.push(vec![Cell::text(long.as_str())]);
    let dir = temp_dir("text")?;
    let path = dir.join("t.xlsx");
    write_xlsx(&[t.clone()], Lang::Zh, &path)?;
    let mut wb: Xlsx<_> = open_workbook(&path)?;
    assert_eq!(wb.sheet_names(), ["文本_测试__1_"], "sheet name sanitised");
    let range = wb.worksheet_range("文本_测试__1_")?;
    let rows: Vec<&[Data]> = range.rows().collect();
    for (i, s) in texts.iter().enumerate() {
        assert_eq!(rows[i + 1][0], Data::String(s.to_string()));
    }
    match &rows[texts.len() + 1][0] {
        Data::String(s) => {
            assert_eq!(s.encode_utf16().count(), 32_767, "cut to Excel's limit");
            assert!(s.starts_with("长长长") && s.ends_with('…'));
        }
        other => panic!("long text: {other:?}"),
    }
    // CSV: formula-like text is defused, everything else is kept as is.
    let mut out = Vec::new();
    write_csv(&t, Lang::En, &mut out)?;
    let mut r = csv::Reader::from_reader(&out[3..]);
    let fields: Vec<String> = r
        .records()
        .map(|rec| rec.map(|rec| rec[0].to_string()))
        .collect::<Result<_, _>>()?;
    for (i, s) in texts.iter().enumerate() {
        if s.starts_with('=') {
            assert_eq!(fields[i], format!("'{s}"));
        } else {
            assert_eq!(fields[i], *s);
        }
    }
    Ok(())
}

#[test]
fn incremental_report_with_20000_conversations() -> TestResult {
    let base = inspections(|_| true)?;
    let mut summary = Summary::default();
    let dir = temp_dir("stream")?;
    let path = dir.join("big.xlsx");
    let mut report = XlsxReport::new(&path, Lang::Zh)?;
    let mut findings = 0;
    let mut first_rows = Vec::new();
    for n in 0..20_000 {
        let mut ins = base[n % base.len()].clone();
        ins.id = format!("{}-{n:05}", ins.id);
        report.add_conversation(&ins)?;
        summary.add(&ins);
        findings += ins.findings.len();
        if n < 50 {
            first_rows.push(ins);
        }
    }
    let errors = vec![
        (
            "a.jsonl:3".to_string(),
            "expected value at line 1 column 1".to_string(),
        ),
        ("b.jsonl:9".to_string(), "缺少 turns 字段".to_string()),
    ];
    report.finish(&summary, &errors)?;

    let mut wb: Xlsx<_> = open_workbook(&path)?;
    assert_eq!(
        wb.sheet_names(),
        ["坐席汇总", "规则汇总", "会话", "问题明细", "错误"]
    );
    assert_sheet(&mut wb, "坐席汇总", &agents_table(&summary), Lang::Zh);
    assert_sheet(&mut wb, "规则汇总", &rules_table(&summary), Lang::Zh);
    assert_sheet(&mut wb, "错误", &errors_table(&errors), Lang::Zh);
    let conversations = wb.worksheet_range("会话")?;
    assert_eq!(conversations.get_size(), (20_001, 14));
    let findings_range = wb.worksheet_range("问题明细")?;
    assert_eq!(findings_range.get_size().0, findings + 1);
    // The first rows are exactly what the in-memory builders give.
    let expected = conversations_table(&first_rows);
    let rows: Vec<&[Data]> = conversations.rows().collect();
    for (r, row) in expected.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            assert_cell(
                &rows[r + 1][c],
                cell,
                Lang::Zh,
                &format!("会话 R{} C{}", r + 2, c + 1),
            );
        }
    }
    let last = rows[20_000][0].to_string();
    assert!(last.ends_with("-19999"), "{last}");
    let expected = findings_table(&first_rows);
    let rows: Vec<&[Data]> = findings_range.rows().collect();
    for (r, row) in expected.rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            assert_cell(
                &rows[r + 1][c],
                cell,
                Lang::Zh,
                &format!("问题明细 R{} C{}", r + 2, c + 1),
            );
        }
    }
    // Streamed sheets get a frozen header, an autofilter and widths too.
    let xml = sheet_xml(&path, 3)?;
    assert!(xml.contains(r#"state="frozen""#));
    assert!(xml.contains(r#"<autoFilter ref="A1:N20001"/>"#));
    assert_eq!(column_widths(&xml).len(), 14);
    Ok(())
}

#[test]
fn incremental_report_overflows_into_new_sheets() -> TestResult {
    let base = sample()?;
    let dir = temp_dir("overflow")?;
    let path = dir.join("split.xlsx");
    let mut report = XlsxReport::new(&path, Lang::En)?;
    report.set_row_limit(101);
    let mut summary = Summary::default();
    for n in 0..250 {
        let mut ins = base[n % base.len()].clone();
        ins.id = format!("c{n}");
        report.add_conversation(&ins)?;
        summary.add(&ins);
    }
    report.finish(&summary, &[])?;
    let mut wb: Xlsx<_> = open_workbook(&path)?;
    let names = wb.sheet_names();
    let parts: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("Conversations"))
        .collect();
    assert_eq!(
        parts,
        ["Conversations", "Conversations (2)", "Conversations (3)"]
    );
    let mut ids = Vec::new();
    for name in parts {
        let range = wb.worksheet_range(name)?;
        let rows: Vec<&[Data]> = range.rows().collect();
        assert_eq!(
            rows[0][0],
            Data::String("Conversation ID".into()),
            "{name} has a header"
        );
        ids.extend(rows[1..].iter().map(|r| r[0].to_string()));
    }
    let expected: Vec<String> = (0..250).map(|n| format!("c{n}")).collect();
    assert_eq!(ids, expected, "every row once, in order");
    assert!(names.iter().any(|n| n == "Findings (2)"));
    assert_eq!(names.last().map(String::as_str), Some("Errors"));
    Ok(())
}

#[test]
fn empty_inputs_give_headers_only() -> TestResult {
    let dir = temp_dir("empty")?;
    let tables = all_tables(&[], &[]);
    let path = dir.join("empty.xlsx");
    write_xlsx(&tables, Lang::Zh, &path)?;
    let mut wb: Xlsx<_> = open_workbook(&path)?;
    for (table, name) in tables.iter().zip(wb.sheet_names()) {
        assert_sheet(&mut wb, &name, table, Lang::Zh);
    }

    let path = dir.join("empty-report.xlsx");
    XlsxReport::new(&path, Lang::En)?.finish(&Summary::default(), &[])?;
    let mut wb: Xlsx<_> = open_workbook(&path)?;
    let names = wb.sheet_names();
    assert_eq!(
        names,
        ["Agents", "Rules", "Conversations", "Findings", "Errors"]
    );
    for name in names {
        let range = wb.worksheet_range(&name)?;
        assert_eq!(range.get_size().0, 1, "{name}: header only");
        assert!(range
            .rows()
            .next()
            .is_some_and(|r| r.iter().all(|c| *c != Data::Empty)));
    }

    let mut out = Vec::new();
    write_csv(&conversations_table(&[]), Lang::Zh, &mut out)?;
    let text = std::str::from_utf8(&out)?;
    assert!(text.starts_with('\u{feff}'));
    assert_eq!(text.matches("\r\n").count(), 1, "header line only");
    assert!(text.contains("会话ID"));

    let mut out = Vec::new();
    write_jsonl(&conversations_table(&[]), &mut out)?;
    assert!(out.is_empty());
    Ok(())
}

#[test]
fn bad_shapes_and_paths_are_clear_errors() -> TestResult {
    let mut t = Table::new(
        "x",
        "x",
        vec![Column::new("a", "甲", "A", ColumnKind::Integer)],
    );
    t.rows.push(vec![Cell::Int(1), Cell::Int(2)]);
    let dir = temp_dir("errors")?;
    let err = write_xlsx(&[t.clone()], Lang::Zh, &dir.join("x.xlsx")).err();
    assert!(matches!(
        err,
        Some(ExportError::RowShape {
            row: 1,
            cells: 2,
            columns: 1,
            ..
        })
    ));
    assert!(write_csv(&t, Lang::Zh, &mut Vec::new()).is_err());

    let missing = dir.join("no-such-dir").join("r.xlsx");
    match XlsxReport::new(&missing, Lang::Zh) {
        Err(e @ ExportError::Io { .. }) => {
            assert!(e.to_string().contains("no-such-dir"), "{e}")
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    Ok(())
}
