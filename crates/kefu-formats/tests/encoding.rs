//! Encoding is decided from the whole file (issue 17): a UTF-8 file with a
//! bad byte stays UTF-8, and a header that cannot be decoded is reported as
//! an encoding problem.

use kefu_formats::import::{csv, ImportOptions};

#[test]
fn a_bad_byte_in_utf8_is_replaced_not_read_as_gb18030() {
    let mut bytes = "会话ID,角色,内容\nc-1,客户,你好\n".as_bytes().to_vec();
    bytes.extend_from_slice("c-1,客服,客服".as_bytes());
    bytes.push(0xff);
    bytes.extend_from_slice("在的\n".as_bytes());
    let decoded = csv::decode(&bytes).expect("decodes");
    assert_eq!(decoded.encoding, "UTF-8");
    assert!(
        decoded.text.contains("客服\u{FFFD}在的"),
        "{}",
        decoded.text
    );
    assert!(!decoded.text.contains("瀹"), "no GB18030 mojibake");
    assert_eq!(decoded.errors.len(), 1);
    assert_eq!(decoded.errors[0].line, 3);
    assert!(decoded.errors[0].reason.contains("U+FFFD"));

    let imported = csv::read("bad.csv", &bytes, &ImportOptions::default());
    assert_eq!(imported.conversations.len(), 1);
    let texts: Vec<&str> = imported.conversations[0]
        .turns
        .iter()
        .map(|t| t.text.as_ref())
        .collect();
    assert_eq!(texts, ["你好", "客服\u{FFFD}在的"]);
    assert!(imported.errors.iter().any(|e| e.line == 3));
}

#[test]
fn a_gbk_file_is_still_gb18030() {
    let (gbk, _, _) = encoding_rs::GBK.encode("会话ID,角色,内容\nc-1,客服,您好\n");
    let decoded = csv::decode(&gbk).expect("decodes");
    assert_eq!(decoded.encoding, "GB18030");
    assert!(decoded.text.contains("客服,您好"));
    assert!(decoded.errors.is_empty());
}

#[test]
fn an_undecodable_header_blames_the_encoding() {
    let mut bytes = "会话ID,角色,内".as_bytes().to_vec();
    bytes.push(0xff);
    bytes.extend_from_slice("容\nc-1,客服,您好\n".as_bytes());
    let imported = csv::read("head.csv", &bytes, &ImportOptions::default());
    assert!(imported.conversations.is_empty());
    assert_eq!(imported.errors.len(), 1, "{:?}", imported.errors);
    let e = &imported.errors[0];
    assert_eq!(e.line, 1);
    assert!(
        e.reason
            .starts_with("the header is not readable text: invalid UTF-8"),
        "{}",
        e.reason
    );
}
