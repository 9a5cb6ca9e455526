//! Opaque text of keyset cursors ([`ComplaintKey`], [`InspectionKey`],
//! [`CustomerListKey`]), as lists hand them out in `next` and read them back
//! from `cursor`: the sort key of the last row of a page, ids (and names)
//! hex-encoded so that any id survives a
//! query string unescaped. Clients must not build them; a cursor that does
//! not parse is refused, one naming a row since deleted still works (pages
//! continue after where it was).

use crate::customers::CustomerListKey;
use crate::{ComplaintKey, FeedbackKey, InspectionKey};

/// Hex of the bytes of `text`.
fn hex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.as_bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Text from [`hex`].
fn unhex(hex: &str) -> Option<String> {
    if !hex.len().is_multiple_of(2) || !hex.is_ascii() {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

impl ComplaintKey {
    /// The cursor text (`c<opened_at>.<hex id>`).
    pub fn to_cursor(&self) -> String {
        format!("c{}.{}", self.opened_at, hex(&self.id))
    }

    /// Reads [`ComplaintKey::to_cursor`]'s text; `None` when it is not one.
    pub fn from_cursor(text: &str) -> Option<Self> {
        let (at, id) = text.strip_prefix('c')?.split_once('.')?;
        Some(Self {
            opened_at: at.parse().ok()?,
            id: unhex(id)?,
        })
    }
}

impl FeedbackKey {
    /// The cursor text (`f<created_at>.<hex id>`).
    pub fn to_cursor(&self) -> String {
        format!("f{}.{}", self.created_at, hex(&self.id))
    }

    /// Reads [`FeedbackKey::to_cursor`]'s text; `None` when it is not one.
    pub fn from_cursor(text: &str) -> Option<Self> {
        let (at, id) = text.strip_prefix('f')?.split_once('.')?;
        Some(Self {
            created_at: at.parse().ok()?,
            id: unhex(id)?,
        })
    }
}

impl CustomerListKey {
    /// The cursor text (`k<hex grade>.<hex name>.<hex id>`).
    pub fn to_cursor(&self) -> String {
        format!(
            "k{}.{}.{}",
            hex(&self.grade),
            hex(&self.name),
            hex(&self.id)
        )
    }

    /// Reads [`CustomerListKey::to_cursor`]'s text; `None` when it is not one.
    pub fn from_cursor(text: &str) -> Option<Self> {
        let mut parts = text.strip_prefix('k')?.split('.');
        let key = Self {
            grade: unhex(parts.next()?)?,
            name: unhex(parts.next()?)?,
            id: unhex(parts.next()?)?,
        };
        parts.next().is_none().then_some(key)
    }
}

impl InspectionKey {
    /// The cursor text (`r<started_at or ->.<id>`).
    pub fn to_cursor(&self) -> String {
        match self.started_at {
            Some(at) => format!("r{at}.{}", self.id),
            None => format!("r-.{}", self.id),
        }
    }

    /// Reads [`InspectionKey::to_cursor`]'s text; `None` when it is not one.
    pub fn from_cursor(text: &str) -> Option<Self> {
        let (at, id) = text.strip_prefix('r')?.split_once('.')?;
        Some(Self {
            started_at: match at {
                "-" => None,
                at => Some(at.parse().ok()?),
            },
            id: id.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for id in ["TS-20261206-0001", "客诉/1 ?&=", ""] {
            let key = ComplaintKey {
                opened_at: -5,
                id: id.to_string(),
            };
            assert_eq!(ComplaintKey::from_cursor(&key.to_cursor()), Some(key));
        }
        let key = FeedbackKey {
            created_at: 7,
            id: "FB-1 意见/?".to_string(),
        };
        assert_eq!(FeedbackKey::from_cursor(&key.to_cursor()), Some(key));
        assert!(FeedbackKey::from_cursor("c1.00").is_none());
        for started_at in [None, Some(0), Some(1_765_000_000_000), Some(-1)] {
            let key = InspectionKey { started_at, id: 42 };
            assert_eq!(InspectionKey::from_cursor(&key.to_cursor()), Some(key));
        }
        let key = CustomerListKey {
            grade: "A".into(),
            name: "张三.丰 ?&=".into(),
            id: "".into(),
        };
        assert_eq!(CustomerListKey::from_cursor(&key.to_cursor()), Some(key));
        for bad in ["k41.00", "k41.00.00.00", "kzz.00.00", "c1.00", "k"] {
            assert!(CustomerListKey::from_cursor(bad).is_none(), "{bad}");
        }
        for bad in [
            "", "c", "c1", "c1.0", "cx.00", "r1.x", "rx.1", "c1.zz", "r1",
        ] {
            assert!(ComplaintKey::from_cursor(bad).is_none(), "{bad}");
            assert!(InspectionKey::from_cursor(bad).is_none(), "{bad}");
        }
    }
}
