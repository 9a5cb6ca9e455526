//! Complaint lists (投诉登记表) from CSV/TSV or XLSX: Chinese or English
//! headers in any order, UTF-8, GBK/GB18030 or UTF-16 text, read like
//! [`super::customers`]. Each row is one complaint as the complaint create
//! API takes it; the values stay text here (kefu-service checks them, the
//! submission time in the centre's timezone). A row that cannot be read is
//! reported with its line (CSV) or row (XLSX) number and skipped.

use std::collections::BTreeMap;

use super::customers::{column_key, csv_rows, header_row, xlsx_rows, Rows};
use super::ImportError;

/// The known columns: key, Chinese header, English header, other names.
pub const COLUMNS: &[(&str, &str, &str, &[&str])] = &[
    (
        "id",
        "投诉编号",
        "Complaint id",
        &["编号", "工单号", "id", "complaint_id"],
    ),
    (
        "customer_name",
        "客户",
        "Customer",
        &[
            "客户姓名",
            "客户名称",
            "姓名",
            "customer",
            "customer_name",
            "name",
        ],
    ),
    (
        "customer_id",
        "客户编号",
        "Customer id",
        &["客户ID", "客户号", "customer_id"],
    ),
    (
        "phone",
        "电话",
        "Phone",
        &["手机", "手机号", "联系电话", "phone", "customer_phone"],
    ),
    (
        "channel",
        "渠道",
        "Channel",
        &["来源", "投诉渠道", "channel"],
    ),
    (
        "category",
        "类别",
        "Category",
        &["投诉类别", "分类", "投诉类型", "category"],
    ),
    (
        "priority",
        "严重程度",
        "Severity",
        &["优先级", "紧急程度", "severity", "priority"],
    ),
    (
        "description",
        "内容",
        "Content",
        &["投诉内容", "描述", "问题描述", "content", "description"],
    ),
    (
        "created_at",
        "提交时间",
        "Created at",
        &[
            "投诉时间",
            "创建时间",
            "登记时间",
            "created_at",
            "submitted_at",
        ],
    ),
    (
        "agent_id",
        "坐席",
        "Agent id",
        &["坐席工号", "处理人", "agent", "agent_id", "assignee"],
    ),
    ("group", "处理组", "Group", &["技能组", "group", "group_id"]),
    (
        "conversation_id",
        "会话编号",
        "Conversation id",
        &["会话ID", "conversation_id"],
    ),
    ("special", "特殊疑难", "Special", &["疑难", "special"]),
];

/// One complaint read from a file: its known columns as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComplaintRecord {
    /// Line (CSV) or row (XLSX), 1-based, counting the header.
    pub line: u64,
    /// Known columns by key (only non-empty values, trimmed).
    pub values: BTreeMap<&'static str, String>,
}

impl ComplaintRecord {
    /// The value of a known column.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// What a complaint file held.
#[derive(Debug, Default)]
pub struct ComplaintsImported {
    /// Rows read.
    pub records: Vec<ComplaintRecord>,
    /// Rows (or the file) that could not be read.
    pub errors: Vec<ImportError>,
    /// The encoding the text was read in (`XLSX` for workbooks).
    pub encoding: &'static str,
}

/// The key of a header, if kefu knows it.
fn key_of(header: &str) -> Option<&'static str> {
    column_key(COLUMNS, header)
}

fn from_rows(
    rows: Rows,
    encoding: &'static str,
    mut errors: Vec<ImportError>,
) -> ComplaintsImported {
    let mut rows = rows.into_iter();
    let (_, keys) = match header_row(
        &mut rows,
        key_of,
        "description",
        "no content column: the first row must be headers such as 客户, 渠道, 类别, 内容",
    ) {
        Ok(h) => h,
        Err(e) => {
            errors.push(e);
            return ComplaintsImported {
                errors,
                encoding,
                ..Default::default()
            };
        }
    };
    let mut out = ComplaintsImported {
        encoding,
        ..Default::default()
    };
    for (line, cells) in rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut r = ComplaintRecord {
            line,
            ..Default::default()
        };
        for (i, cell) in cells.iter().enumerate() {
            let v = cell.trim();
            if let (false, Some(key)) = (v.is_empty(), keys.get(i).copied().flatten()) {
                r.values.insert(key, v.to_string());
            }
        }
        out.records.push(r);
    }
    errors.sort_by_key(|e| e.line);
    out.errors = errors;
    out
}

/// Reads a CSV (or TSV) complaint list of any encoding kefu reads.
pub fn read_csv(bytes: &[u8]) -> ComplaintsImported {
    match csv_rows(bytes) {
        Ok((rows, encoding, errors)) => from_rows(rows, encoding, errors),
        Err(e) => ComplaintsImported {
            errors: vec![e],
            ..Default::default()
        },
    }
}

/// Reads the first worksheet of an XLSX complaint list.
pub fn read_xlsx(bytes: &[u8]) -> ComplaintsImported {
    match xlsx_rows(bytes) {
        Ok(rows) => from_rows(rows, "XLSX", Vec::new()),
        Err(e) => ComplaintsImported {
            errors: vec![e],
            encoding: "XLSX",
            ..Default::default()
        },
    }
}
