//! JSON text of a reply, as DPDK's `telemetry_json.h` writes it: no spaces, strings escaped,
//! integers exact, and a size bound: an element that would take the text past the bound is
//! left out (the rest of the reply stays valid JSON), which is how DPDK keeps a reply within
//! `max_output_len`.

use std::fmt::Write;

use super::data::{Data, Kind, Value};

/// The largest reply, in bytes (DPDK's `MAX_OUTPUT_LEN`), sent in the greeting as
/// `max_output_len`.
pub const MAX_OUTPUT_LEN: usize = 16 * 1024;

/// The longest command name plus its terminator (DPDK's `MAX_CMD_LEN`).
pub const MAX_CMD_LEN: usize = 56;

/// Appends `s` as a JSON string body: `"` and `\` escaped, newline, return and tab as `\n`,
/// `\r`, `\t`, other control characters dropped (as DPDK does).
fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape_into(&mut out, s);
    out.push('"');
    out
}

/// A JSON object or array being built within `cap` bytes (the text stays shorter than `cap`,
/// as DPDK's buffers keep room for a terminator).
struct Bounded {
    text: String,
    close: char,
    cap: usize,
}

impl Bounded {
    fn new(open: char, close: char, cap: usize) -> Option<Bounded> {
        (2 < cap).then(|| Bounded {
            text: format!("{open}{close}"),
            close,
            cap,
        })
    }

    /// Adds one element (already JSON) if the result fits.
    fn push(&mut self, element: &str) {
        let empty = self.text.len() == 2;
        let grown = self.text.len() + element.len() + usize::from(!empty);
        if grown >= self.cap {
            return;
        }
        self.text.pop();
        if !empty {
            self.text.push(',');
        }
        self.text.push_str(element);
        self.text.push(self.close);
    }
}

fn value_json(v: &Value, cap: usize) -> Option<String> {
    Some(match v {
        Value::String(s) => quoted(s),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Container(c) => container_json(c, cap)?,
    })
}

/// A dictionary or array in at most `cap - 1` bytes; `None` if even `{}` does not fit.
fn container_json(d: &Data, cap: usize) -> Option<String> {
    match &d.kind {
        Kind::Dict(entries) => {
            let mut b = Bounded::new('{', '}', cap)?;
            for (name, v) in entries {
                if let Some(json) = value_json(v, cap) {
                    let mut element = String::with_capacity(name.len() + json.len() + 3);
                    let _ = write!(element, "\"{name}\":{json}");
                    b.push(&element);
                }
            }
            Some(b.text)
        }
        Kind::Array(_, items) => {
            let mut b = Bounded::new('[', ']', cap)?;
            for v in items {
                if let Some(json) = value_json(v, cap) {
                    b.push(&json);
                }
            }
            Some(b.text)
        }
        Kind::String(s) => {
            let q = quoted(s);
            Some(if q.len() < cap { q } else { "null".to_string() })
        }
        Kind::Null => Some("null".to_string()),
    }
}

/// The key under which a reply is given: the command, cut to 56 bytes (as DPDK's
/// `"%.*s"`), escaped so that the reply stays valid JSON whatever the request held.
fn reply_key(cmd: &[u8]) -> String {
    let cut = &cmd[..cmd.len().min(MAX_CMD_LEN)];
    quoted(&String::from_utf8_lossy(cut))
}

/// The whole reply, `{"<cmd>":<data>}`, in fewer than [`MAX_OUTPUT_LEN`] bytes.
pub(crate) fn reply(cmd: &[u8], d: &Data) -> String {
    let key = reply_key(cmd);
    let prefix = key.len() + 2;
    let cap = MAX_OUTPUT_LEN.saturating_sub(prefix + 1);
    let body = container_json(d, cap).unwrap_or_else(|| "null".to_string());
    format!("{{{key}:{body}}}")
}

/// The reply to an unknown command or a failed handler: `{"<cmd>":null}`.
pub(crate) fn null_reply(cmd: &[u8]) -> String {
    format!("{{{}:null}}", reply_key(cmd))
}

impl Data {
    /// The JSON text of this data, as it would appear in a reply (bounded by
    /// [`MAX_OUTPUT_LEN`]).
    pub fn to_json(&self) -> String {
        container_json(self, MAX_OUTPUT_LEN).unwrap_or_else(|| "null".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::super::data::MAX_ARRAY_ENTRIES;
    use super::*;
    use crate::telemetry::ValueType;

    #[test]
    fn strings_are_escaped_as_dpdk() {
        let mut d = Data::new();
        d.start_array(ValueType::String);
        d.add_array_string("a\"b\\c\nd\re\tf\u{1}g\u{7f}é").unwrap();
        assert_eq!(d.to_json(), "[\"a\\\"b\\\\c\\nd\\re\\tfg\u{7f}é\"]");
        let mut s = Data::new();
        s.set_string("line\n");
        assert_eq!(reply(b"/help", &s), r#"{"/help":"line\n"}"#);
    }

    #[test]
    fn u64_and_i64_are_exact() {
        let mut d = Data::new();
        d.start_dict();
        d.add_dict_uint("max", u64::MAX).unwrap();
        d.add_dict_uint("big", (1 << 53) + 1).unwrap();
        d.add_dict_int("min", i64::MIN).unwrap();
        assert_eq!(
            d.to_json(),
            r#"{"max":18446744073709551615,"big":9007199254740993,"min":-9223372036854775808}"#
        );
    }

    #[test]
    fn nested_dicts_and_arrays() {
        let mut q = Data::new();
        q.start_array(ValueType::Uint);
        q.add_array_uint(1).unwrap();
        q.add_array_uint(2).unwrap();
        let mut inner = Data::new();
        inner.start_dict();
        inner.add_dict_container("q", q.clone()).unwrap();
        inner.add_dict_string("s", "x").unwrap();
        let mut d = Data::new();
        d.start_dict();
        d.add_dict_container("inner", inner.clone()).unwrap();
        let mut empty = Data::new();
        empty.start_array(ValueType::Int);
        d.add_dict_container("empty", empty).unwrap();
        assert_eq!(d.to_json(), r#"{"inner":{"q":[1,2],"s":"x"},"empty":[]}"#);
        let mut a = Data::new();
        a.start_array(ValueType::Container);
        a.add_array_container(inner).unwrap();
        a.add_array_container(q).unwrap();
        assert_eq!(reply(b"/x", &a), r#"{"/x":[{"q":[1,2],"s":"x"},[1,2]]}"#);
    }

    #[test]
    fn null_and_empty_replies() {
        assert_eq!(reply(b"/x", &Data::new()), r#"{"/x":null}"#);
        let mut d = Data::new();
        d.start_dict();
        assert_eq!(reply(b"/x", &d), r#"{"/x":{}}"#);
        assert_eq!(null_reply(b"/nope"), r#"{"/nope":null}"#);
        let long = [b'/'; 80];
        assert_eq!(
            null_reply(&long),
            format!("{{\"{}\":null}}", "/".repeat(56))
        );
        assert_eq!(null_reply(b"/a\"b"), r#"{"/a\"b":null}"#);
    }

    #[test]
    fn elements_past_the_output_bound_are_left_out() {
        let mut d = Data::new();
        d.start_array(ValueType::String);
        for _ in 0..MAX_ARRAY_ENTRIES {
            d.add_array_string(&"x".repeat(100)).unwrap();
        }
        let r = reply(b"/big", &d);
        assert!(r.len() < MAX_OUTPUT_LEN, "{}", r.len());
        assert!(r.len() > MAX_OUTPUT_LEN - 110, "{}", r.len());
        assert!(r.ends_with("\"]}"));
        // Every element kept is whole: 103 bytes each with its comma and quotes.
        let body = &r["{\"/big\":".len()..r.len() - 1];
        assert_eq!((body.len() - 1) % 103, 0);
    }
}
