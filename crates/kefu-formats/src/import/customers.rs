//! Customer lists (客户档案) from CSV or XLSX, as centres keep them:
//! Chinese or English headers in any order, UTF-8, GBK/GB18030 or UTF-16
//! text ([`super::csv::decode`]); every bad row is reported with its line
//! (CSV) or row (XLSX) number and skipped, the rest is read. Columns kefu
//! does not know become text custom fields. [`customers_table`] writes the
//! same columns back, so an export reads in again.

use std::io::Cursor;

use crate::export::{Cell, Column, ColumnKind, Table};

use super::ImportError;

/// The known columns: key, Chinese header, English header, other names.
pub const COLUMNS: &[(&str, &str, &str, &[&str])] = &[
    (
        "id",
        "客户编号",
        "Customer id",
        &["客户ID", "客户号", "id", "customer_id", "编号"],
    ),
    (
        "name",
        "姓名",
        "Name",
        &["客户姓名", "客户名称", "名称", "name", "customer_name"],
    ),
    (
        "owner",
        "负责坐席",
        "Owner",
        &["坐席", "客户经理", "owner", "owner_id", "坐席工号"],
    ),
    (
        "phones",
        "电话",
        "Phones",
        &["手机", "手机号", "联系电话", "phone", "phones", "电话号码"],
    ),
    (
        "native_id",
        "原系统客户号",
        "Source customer id",
        &["native_id", "来源客户号"],
    ),
    (
        "vendor_id",
        "会员号",
        "Member id",
        &["会员ID", "vendor_id", "member_id"],
    ),
    (
        "nick",
        "店铺昵称",
        "Shop nick",
        &["旺旺号", "买家昵称", "nick", "buyer_nick"],
    ),
    ("title", "称呼", "Title", &["title", "怎么称呼"]),
    (
        "region",
        "地区",
        "Region",
        &["来自哪里", "省市", "region", "城市"],
    ),
    (
        "company",
        "单位",
        "Company",
        &["公司", "company", "工作单位"],
    ),
    ("department", "部门", "Department", &["department"]),
    (
        "contact",
        "其他联系方式",
        "Other contact",
        &["邮箱", "微信", "contact", "email"],
    ),
    ("usage", "用途", "Used for", &["用在哪里", "usage"]),
    (
        "needed_by",
        "何时要货",
        "Needed by",
        &["需求时间", "needed_by"],
    ),
    ("quantity", "数量", "Quantity", &["quantity", "需求数量"]),
    ("budget", "预算", "Budget", &["budget"]),
    ("invoice", "发票", "Invoice", &["是否需要发票", "invoice"]),
    ("gender", "性别", "Gender", &["gender"]),
    ("age_band", "年龄段", "Age band", &["age_band", "年龄"]),
    (
        "preferred_channel",
        "偏好渠道",
        "Preferred channel",
        &["preferred_channel"],
    ),
    (
        "preferred_time",
        "联系时段",
        "Best time",
        &["方便联系时段", "preferred_time"],
    ),
    (
        "id_number",
        "证件号",
        "ID number",
        &["身份证号", "id_number"],
    ),
    ("notes", "备注", "Notes", &["notes", "说明"]),
    ("tags", "标签", "Tags", &["tags"]),
    (
        "do_not_disturb",
        "免打扰",
        "Do not disturb",
        &["do_not_disturb", "dnd"],
    ),
    ("grade", "等级", "Grade", &["客户等级", "grade", "分级"]),
    ("birthday", "生日", "Birthday", &["公历生日", "birthday"]),
    (
        "lunar_birthday",
        "农历生日",
        "Lunar birthday",
        &["lunar_birthday"],
    ),
    (
        "remind_days",
        "提前提醒天数",
        "Remind days ahead",
        &["提醒天数", "remind_days"],
    ),
];

/// A birthday: `YYYY-MM-DD` or `MM-DD`; lunar ones may mark the month
/// leap: `1988-闰6-10`, `闰06-10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateSpec {
    /// Year, when given.
    pub year: Option<i64>,
    /// Month.
    pub month: i64,
    /// Day.
    pub day: i64,
    /// Leap month (lunar only).
    pub leap: bool,
}

/// One customer read from a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerRecord {
    /// Line (CSV) or row (XLSX), 1-based, counting the header.
    pub line: u64,
    /// Known columns by key (only non-empty values).
    pub values: std::collections::BTreeMap<&'static str, String>,
    /// Phones, split on `;`, `,`, `/`, `、` and spaces.
    pub phones: Vec<String>,
    /// Tags, split the same way.
    pub tags: Vec<String>,
    /// 免打扰.
    pub do_not_disturb: bool,
    /// Solar birthday.
    pub birthday: Option<DateSpec>,
    /// Lunar birthday.
    pub lunar_birthday: Option<DateSpec>,
    /// Days ahead to remind.
    pub remind_days: Option<i64>,
    /// Columns kefu does not know: (header, value), for custom fields.
    pub extra: Vec<(String, String)>,
}

impl CustomerRecord {
    /// The value of a known column.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// What a customer file held.
#[derive(Debug, Default)]
pub struct CustomersImported {
    /// Rows read.
    pub records: Vec<CustomerRecord>,
    /// Rows (or the file) that could not be read.
    pub errors: Vec<ImportError>,
    /// The encoding the text was read in (`XLSX` for workbooks).
    pub encoding: &'static str,
}

/// The key of a header, if kefu knows it.
fn key_of(header: &str) -> Option<&'static str> {
    column_key(COLUMNS, header)
}

/// The key of a table header in `columns` (`(key, 中文, english,
/// aliases)`): the Chinese name, or the English name or an alias in any
/// case; a BOM and spaces around it do not count.
pub(crate) fn column_key(
    columns: &[(&'static str, &str, &str, &[&str])],
    header: &str,
) -> Option<&'static str> {
    let h = header.trim().trim_matches('\u{feff}').trim();
    columns.iter().find_map(|(key, zh, en, other)| {
        (h == *zh || h.eq_ignore_ascii_case(en) || other.iter().any(|o| h.eq_ignore_ascii_case(o)))
            .then_some(*key)
    })
}

/// Takes the header row of a table file and maps it with `key_of`: the
/// headers and their keys, or the file's error when there is no row or no
/// column keyed `required` (`missing` says which headers are expected).
pub(crate) fn header_row(
    rows: &mut impl Iterator<Item = (u64, Vec<String>)>,
    key_of: fn(&str) -> Option<&'static str>,
    required: &str,
    missing: &str,
) -> Result<(Vec<String>, Vec<Option<&'static str>>), ImportError> {
    let Some((_, headers)) = rows.next() else {
        return Err(ImportError::file("the file is empty"));
    };
    let keys: Vec<Option<&'static str>> = headers.iter().map(|h| key_of(h)).collect();
    if !keys.contains(&Some(required)) {
        return Err(ImportError::file(missing));
    }
    Ok((headers, keys))
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', ',', '/', '、', '；', '，', ' '])
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads `YYYY-MM-DD`, `MM-DD` (also with `/` or `.`), with an optional
/// `闰` before the month when `lunar`.
pub fn parse_date_spec(s: &str, lunar: bool) -> Result<DateSpec, String> {
    let t = s.trim().trim_start_matches("农历").trim();
    let parts: Vec<&str> = t.split(['-', '/', '.']).map(str::trim).collect();
    let (year, month, day) = match parts.as_slice() {
        [y, m, d] => (Some(*y), *m, *d),
        [m, d] => (None, *m, *d),
        _ => return Err(format!("date `{s}` is not YYYY-MM-DD or MM-DD")),
    };
    let (leap, month) = match month.strip_prefix('闰') {
        Some(m) if lunar => (true, m),
        Some(_) => return Err(format!("`{s}`: only lunar dates have leap months")),
        None => (false, month),
    };
    let num = |v: &str, what: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("date `{s}`: {what} `{v}` is not a number"))
    };
    let year = year.map(|y| num(y, "year")).transpose()?;
    let month = num(month, "month")?;
    let day = num(day, "day")?;
    let max_day = if lunar { 30 } else { 31 };
    if !(1..=12).contains(&month) || !(1..=max_day).contains(&day) {
        return Err(format!("date `{s}` has no such month or day"));
    }
    if let Some(y) = year {
        if !(1900..=2200).contains(&y) {
            return Err(format!("date `{s}`: year out of range"));
        }
    }
    Ok(DateSpec {
        year,
        month,
        day,
        leap,
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" | "否" | "no" | "n" | "false" | "0" => Some(false),
        "是" | "yes" | "y" | "true" | "1" => Some(true),
        _ => None,
    }
}

/// Turns one row of cells into a record, or says why not.
fn record(
    line: u64,
    keys: &[Option<&'static str>],
    headers: &[String],
    cells: &[String],
) -> Result<CustomerRecord, String> {
    let mut r = CustomerRecord {
        line,
        ..Default::default()
    };
    for (i, cell) in cells.iter().enumerate() {
        let v = cell.trim();
        if v.is_empty() {
            continue;
        }
        match keys.get(i).copied().flatten() {
            Some("phones") => r.phones.extend(split_list(v)),
            Some("tags") => r.tags.extend(split_list(v)),
            Some("do_not_disturb") => {
                r.do_not_disturb =
                    parse_bool(v).ok_or_else(|| format!("免打扰 `{v}` is not 是/否"))?
            }
            Some("birthday") => r.birthday = Some(parse_date_spec(v, false)?),
            Some("lunar_birthday") => r.lunar_birthday = Some(parse_date_spec(v, true)?),
            Some("remind_days") => {
                r.remind_days = Some(
                    v.parse::<i64>()
                        .ok()
                        .filter(|d| (0..=366).contains(d))
                        .ok_or_else(|| format!("提前提醒天数 `{v}` is not 0–366"))?,
                )
            }
            Some("grade") => {
                let g = v.to_ascii_uppercase();
                let g = g.trim_end_matches(['类', '级']);
                if !["A", "B", "C"].contains(&g) {
                    return Err(format!("等级 `{v}` is not A, B or C"));
                }
                r.values.insert("grade", g.to_string());
            }
            Some(key) => {
                r.values.insert(key, v.to_string());
            }
            None => {
                if let Some(h) = headers.get(i).filter(|h| !h.trim().is_empty()) {
                    r.extra.push((h.trim().to_string(), v.to_string()));
                }
            }
        }
    }
    if r.get("name").is_none() {
        return Err("姓名 (name) is empty".into());
    }
    for p in &r.phones {
        let digits = p.chars().filter(char::is_ascii_digit).count();
        if !(5..=20).contains(&digits)
            || p.chars()
                .any(|c| !(c.is_ascii_digit() || "+- ()".contains(c)))
        {
            return Err(format!("电话 `{p}` is not a phone number"));
        }
    }
    Ok(r)
}

fn from_rows(
    rows: impl Iterator<Item = (u64, Vec<String>)>,
    encoding: &'static str,
    mut errors: Vec<ImportError>,
) -> CustomersImported {
    let mut rows = rows.peekable();
    let (headers, keys) = match header_row(
        &mut rows,
        key_of,
        "name",
        "no name column: the first row must be headers such as 姓名, 电话, 负责坐席",
    ) {
        Ok(h) => h,
        Err(e) => {
            errors.push(e);
            return CustomersImported {
                errors,
                encoding,
                ..Default::default()
            };
        }
    };
    let mut out = CustomersImported {
        encoding,
        ..Default::default()
    };
    for (line, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        match record(line, &keys, &headers, &cells) {
            Ok(r) => out.records.push(r),
            Err(reason) => errors.push(ImportError { line, reason }),
        }
    }
    errors.sort_by_key(|e| e.line);
    out.errors = errors;
    out
}

/// Rows of a table file: each row's cells with its 1-based line (CSV) or
/// row (XLSX).
pub(crate) type Rows = Vec<(u64, Vec<String>)>;

/// Rows of a CSV (or TSV) file of any encoding kefu reads, each with its
/// 1-based line, with the encoding and the lines that could not be read.
pub(crate) fn csv_rows(
    bytes: &[u8],
) -> Result<(Rows, &'static str, Vec<ImportError>), ImportError> {
    let decoded = super::csv::decode(bytes)?;
    let first = decoded.text.lines().next().unwrap_or("");
    let delimiter = if first.matches('\t').count() > first.matches(',').count() {
        b'\t'
    } else {
        b','
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(decoded.text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = decoded.errors;
    for rec in reader.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map_or(0, |p| p.line());
                rows.push((line, r.iter().map(str::to_string).collect()));
            }
            Err(e) => errors.push(ImportError {
                line: e.position().map_or(0, |p| p.line()),
                reason: format!("unreadable CSV: {e}"),
            }),
        }
    }
    Ok((rows, decoded.encoding, errors))
}

/// Reads a CSV (or TSV) customer list of any encoding kefu reads.
pub fn read_csv(bytes: &[u8]) -> CustomersImported {
    match csv_rows(bytes) {
        Ok((rows, encoding, errors)) => from_rows(rows.into_iter(), encoding, errors),
        Err(e) => CustomersImported {
            errors: vec![e],
            ..Default::default()
        },
    }
}

/// The rows of the first worksheet of an XLSX workbook as text, each with
/// its 1-based row number. Dates are `YYYY-MM-DD`, with ` HH:MM:SS` when
/// the cell holds a time of day too.
pub(crate) fn xlsx_rows(bytes: &[u8]) -> Result<Rows, ImportError> {
    use calamine::{Data, Reader, Xlsx};
    let mut book = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| ImportError::file(format!("not a readable XLSX workbook: {e}")))?;
    let Some(Ok(range)) = book.worksheet_range_at(0) else {
        return Err(ImportError::file("the workbook has no readable worksheet"));
    };
    let first_row = u64::from(range.start().map_or(0, |(r, _)| r));
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| {
            let cells = row
                .iter()
                .map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.clone(),
                    Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => {
                        format!("{}", *f as i64)
                    }
                    // Excel's serial days since 1899-12-30.
                    Data::DateTime(d) => {
                        let serial = d.as_f64();
                        let days = serial.floor();
                        let secs = ((serial - days) * 86_400.0).round() as i64;
                        chrono::NaiveDate::from_ymd_opt(1899, 12, 30)
                            .and_then(|base| {
                                base.checked_add_signed(chrono::Duration::days(days as i64))
                            })
                            .map_or_else(
                                || d.to_string(),
                                |t| {
                                    if secs == 0 {
                                        t.to_string()
                                    } else {
                                        t.and_hms_opt(0, 0, 0).map_or_else(
                                            || t.to_string(),
                                            |m| {
                                                (m + chrono::Duration::seconds(secs))
                                                    .format("%Y-%m-%d %H:%M:%S")
                                                    .to_string()
                                            },
                                        )
                                    }
                                },
                            )
                    }
                    other => other.to_string(),
                })
                .collect();
            (first_row + i as u64 + 1, cells)
        })
        .collect())
}

/// Reads the first worksheet of an XLSX customer list.
pub fn read_xlsx(bytes: &[u8]) -> CustomersImported {
    match xlsx_rows(bytes) {
        Ok(rows) => from_rows(rows.into_iter(), "XLSX", Vec::new()),
        Err(e) => CustomersImported {
            errors: vec![e],
            encoding: "XLSX",
            ..Default::default()
        },
    }
}

/// Customers as a table with the importer's columns (Chinese or English
/// headers): what `kefu customers export` writes. Each row is one cell per
/// [`COLUMNS`] entry, as text.
pub fn customers_table(rows: &[Vec<String>]) -> Table {
    let columns = COLUMNS
        .iter()
        .map(|(key, zh, en, _)| Column::new(key, zh, en, ColumnKind::Text))
        .collect();
    let mut t = Table::new("客户", "Customers", columns);
    t.rows = rows
        .iter()
        .map(|r| {
            r.iter()
                .take(COLUMNS.len())
                .map(|c| Cell::text(c.clone()))
                .collect()
        })
        .collect();
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_csv_with_chinese_headers_and_line_numbered_errors() {
        let text = "姓名,电话,负责坐席,农历生日,等级,免打扰,年采购量\n\
                    张伟,138-0013-8000;13900139000,a-07,1988-闰6-10,A类,否,1200\n\
                    ,13700137000,a-07,,,,\n\
                    李娜,abc,a-07,,,,\n\
                    王芳,13600136000,a-11,13-01,,,\n\
                    赵六,13500135000,a-11,,D,,\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let out = read_csv(&gbk);
        assert_eq!(out.encoding, "GB18030");
        assert_eq!(out.records.len(), 1, "{:?}", out.errors);
        let r = &out.records[0];
        assert_eq!(r.line, 2);
        assert_eq!(r.get("name"), Some("张伟"));
        assert_eq!(r.phones, vec!["138-0013-8000", "13900139000"]);
        assert_eq!(r.get("grade"), Some("A"));
        assert_eq!(
            r.lunar_birthday,
            Some(DateSpec {
                year: Some(1988),
                month: 6,
                day: 10,
                leap: true
            })
        );
        assert_eq!(r.extra, vec![("年采购量".to_string(), "1200".to_string())]);
        let lines: Vec<u64> = out.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6], "{:?}", out.errors);
        assert!(out.errors[0].reason.contains("姓名"));
    }

    #[test]
    fn solar_dates_have_no_leap_month() {
        assert!(parse_date_spec("闰6-10", false).is_err());
        assert_eq!(
            parse_date_spec("05/06", false).map(|d| (d.month, d.day)),
            Ok((5, 6))
        );
        assert!(
            parse_date_spec("2-30", true).is_ok(),
            "lunar months have 30 days"
        );
    }

    #[test]
    fn a_file_without_a_name_column() {
        let out = read_csv("电话\n13800138000\n".as_bytes());
        assert_eq!(out.errors[0].line, 0);
        assert!(out.records.is_empty());
    }

    #[test]
    fn export_round_trips_through_xlsx() {
        let mut row = vec![String::new(); COLUMNS.len()];
        row[1] = "张伟".into();
        row[3] = "13800138000".into();
        let table = customers_table(&[row]);
        let path = std::env::temp_dir().join(format!("kefu-customers-{}.xlsx", std::process::id()));
        crate::export::write_xlsx(&[table], crate::export::Lang::Zh, &path).expect("write");
        let bytes = std::fs::read(&path).expect("read");
        let _ = std::fs::remove_file(&path);
        let out = read_xlsx(&bytes);
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(out.records.len(), 1);
        assert_eq!(out.records[0].get("name"), Some("张伟"));
        assert_eq!(out.records[0].phones, vec!["13800138000"]);
        assert_eq!(out.records[0].line, 2);
    }
}
