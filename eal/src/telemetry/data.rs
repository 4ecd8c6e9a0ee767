//! What a command handler fills in: DPDK's `struct rte_tel_data`.
//!
//! A reply is null (the default), one string, a dictionary, or an array whose elements all have
//! one type. Dictionary values and array elements are strings, signed integers (`i64`),
//! unsigned integers (`u64`, written exactly: no floating point on the way), or containers: a
//! dictionary or an array of plain values held inside. As in DPDK, a container inside a
//! container may not itself be an array of containers, and the limits are DPDK's: 256
//! dictionary entries, 512 array elements, strings of up to 127 bytes (a reply that is one
//! string: 8191), dictionary names of letters, digits, `_` and `/`. Longer strings are cut, as
//! DPDK's `strlcpy` cuts them.

/// Longest string value plus its terminator (`RTE_TEL_MAX_STRING_LEN`).
pub const MAX_STRING_LEN: usize = 128;
/// Longest reply that is one string, plus its terminator (`RTE_TEL_MAX_SINGLE_STRING_LEN`).
pub const MAX_SINGLE_STRING_LEN: usize = 8192;
/// Most entries of a dictionary (`RTE_TEL_MAX_DICT_ENTRIES`).
pub const MAX_DICT_ENTRIES: usize = 256;
/// Most elements of an array (`RTE_TEL_MAX_ARRAY_ENTRIES`).
pub const MAX_ARRAY_ENTRIES: usize = 512;

/// The type of an array's elements (`enum rte_tel_value_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// Strings.
    String,
    /// Signed integers.
    Int,
    /// Unsigned 64-bit integers.
    Uint,
    /// Containers (dictionaries or arrays of plain values).
    Container,
}

/// A dictionary value or array element.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string (at most 127 bytes).
    String(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A nested dictionary or array.
    Container(Box<Data>),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum Kind {
    #[default]
    Null,
    String(String),
    Dict(Vec<(String, Value)>),
    Array(ValueType, Vec<Value>),
}

/// A command's reply (DPDK's `struct rte_tel_data`). It starts null; a handler makes it a
/// dictionary, an array or a string and adds to it.
///
/// ```
/// use rpdk_eal::telemetry::{Data, ValueType};
///
/// let mut queues = Data::new();
/// queues.start_array(ValueType::Uint);
/// queues.add_array_uint(u64::MAX).unwrap();
///
/// let mut d = Data::new();
/// d.start_dict();
/// d.add_dict_string("name", "net_null0").unwrap();
/// d.add_dict_int("socket", -1).unwrap();
/// d.add_dict_container("q_ipackets", queues).unwrap();
/// assert_eq!(
///     d.to_json(),
///     r#"{"name":"net_null0","socket":-1,"q_ipackets":[18446744073709551615]}"#
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Data {
    pub(crate) kind: Kind,
}

/// Why a value was not added.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// The data is not a dictionary, or not an array of this type.
    #[error("the data is not {0}")]
    WrongType(&'static str),
    /// The dictionary or array is full.
    #[error("no room: at most {0} entries")]
    Full(usize),
    /// A dictionary name with a character other than a letter, digit, `_` or `/`.
    #[error("invalid name '{0}': only letters, digits, '_' and '/'")]
    InvalidName(String),
    /// A container that cannot go inside another (null, a string, or an array of
    /// containers).
    #[error("a container must be a dictionary or an array of strings or numbers")]
    BadContainer,
}

/// Cuts `s` to fewer than `limit` bytes, at a character boundary.
fn cut(s: &str, limit: usize) -> String {
    if s.len() < limit {
        return s.to_string();
    }
    let mut end = limit - 1;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Whether `name` has only the characters DPDK allows in dictionary names.
pub(crate) fn valid_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'/')
}

impl Data {
    /// A null reply.
    pub fn new() -> Data {
        Data::default()
    }

    /// Whether nothing was set (the reply is `null`).
    pub fn is_null(&self) -> bool {
        self.kind == Kind::Null
    }

    /// Makes this an empty array of `ty` (`rte_tel_data_start_array`).
    pub fn start_array(&mut self, ty: ValueType) {
        self.kind = Kind::Array(ty, Vec::new());
    }

    /// Makes this an empty dictionary (`rte_tel_data_start_dict`).
    pub fn start_dict(&mut self) {
        self.kind = Kind::Dict(Vec::new());
    }

    /// Makes this one string, cut to 8191 bytes (`rte_tel_data_string`).
    pub fn set_string(&mut self, s: &str) {
        self.kind = Kind::String(cut(s, MAX_SINGLE_STRING_LEN));
    }

    fn push_array(&mut self, ty: ValueType, v: Value) -> Result<(), DataError> {
        match &mut self.kind {
            Kind::Array(t, items) if *t == ty => {
                if items.len() >= MAX_ARRAY_ENTRIES {
                    return Err(DataError::Full(MAX_ARRAY_ENTRIES));
                }
                items.push(v);
                Ok(())
            }
            _ => Err(DataError::WrongType(match ty {
                ValueType::String => "an array of strings",
                ValueType::Int => "an array of integers",
                ValueType::Uint => "an array of unsigned integers",
                ValueType::Container => "an array of containers",
            })),
        }
    }

    /// Adds a string, cut to 127 bytes, to an array of strings.
    pub fn add_array_string(&mut self, s: &str) -> Result<(), DataError> {
        self.push_array(ValueType::String, Value::String(cut(s, MAX_STRING_LEN)))
    }

    /// Adds an integer to an array of integers.
    pub fn add_array_int(&mut self, v: i64) -> Result<(), DataError> {
        self.push_array(ValueType::Int, Value::Int(v))
    }

    /// Adds an unsigned integer to an array of unsigned integers.
    pub fn add_array_uint(&mut self, v: u64) -> Result<(), DataError> {
        self.push_array(ValueType::Uint, Value::Uint(v))
    }

    /// Adds `0x...` (zero-padded to `bits` bits when not 0) to an array of strings
    /// (`rte_tel_data_add_array_uint_hex`).
    pub fn add_array_uint_hex(&mut self, v: u64, bits: u8) -> Result<(), DataError> {
        self.add_array_string(&hex(v, bits))
    }

    /// Adds a dictionary or an array of plain values to an array of containers.
    pub fn add_array_container(&mut self, c: Data) -> Result<(), DataError> {
        check_container(&c)?;
        self.push_array(ValueType::Container, Value::Container(Box::new(c)))
    }

    fn push_dict(&mut self, name: &str, v: Value) -> Result<(), DataError> {
        let Kind::Dict(entries) = &mut self.kind else {
            return Err(DataError::WrongType("a dictionary"));
        };
        if entries.len() >= MAX_DICT_ENTRIES {
            return Err(DataError::Full(MAX_DICT_ENTRIES));
        }
        if !valid_name(name) {
            return Err(DataError::InvalidName(name.to_string()));
        }
        entries.push((cut(name, MAX_STRING_LEN), v));
        Ok(())
    }

    /// Adds `name: "value"` (cut to 127 bytes) to a dictionary.
    pub fn add_dict_string(&mut self, name: &str, v: &str) -> Result<(), DataError> {
        self.push_dict(name, Value::String(cut(v, MAX_STRING_LEN)))
    }

    /// Adds `name: v` to a dictionary.
    pub fn add_dict_int(&mut self, name: &str, v: i64) -> Result<(), DataError> {
        self.push_dict(name, Value::Int(v))
    }

    /// Adds `name: v` (exact, as an unsigned 64-bit integer) to a dictionary.
    pub fn add_dict_uint(&mut self, name: &str, v: u64) -> Result<(), DataError> {
        self.push_dict(name, Value::Uint(v))
    }

    /// Adds `name: "0x..."` to a dictionary (`rte_tel_data_add_dict_uint_hex`).
    pub fn add_dict_uint_hex(&mut self, name: &str, v: u64, bits: u8) -> Result<(), DataError> {
        self.add_dict_string(name, &hex(v, bits))
    }

    /// Adds `name: {...}` or `name: [...]` to a dictionary.
    pub fn add_dict_container(&mut self, name: &str, c: Data) -> Result<(), DataError> {
        check_container(&c)?;
        self.push_dict(name, Value::Container(Box::new(c)))
    }
}

fn check_container(c: &Data) -> Result<(), DataError> {
    match c.kind {
        Kind::Dict(_) => Ok(()),
        Kind::Array(ty, _) if ty != ValueType::Container => Ok(()),
        _ => Err(DataError::BadContainer),
    }
}

fn hex(v: u64, bits: u8) -> String {
    if bits == 0 {
        format!("{v:#x}")
    } else {
        format!("0x{v:0width$x}", width = bits.div_ceil(4) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_limits_as_dpdk() {
        let mut d = Data::new();
        assert!(d.is_null());
        assert_eq!(
            d.add_dict_int("x", 1),
            Err(DataError::WrongType("a dictionary"))
        );
        d.start_array(ValueType::Int);
        assert!(d.add_array_uint(1).is_err());
        for i in 0..MAX_ARRAY_ENTRIES {
            d.add_array_int(i as i64).unwrap();
        }
        assert_eq!(d.add_array_int(0), Err(DataError::Full(512)));

        d.start_dict();
        assert!(matches!(
            d.add_dict_int("rx-packets", 1),
            Err(DataError::InvalidName(_))
        ));
        d.add_dict_int("a/b_1", 1).unwrap();
        for i in 1..MAX_DICT_ENTRIES {
            d.add_dict_uint(&format!("k{i}"), i as u64).unwrap();
        }
        assert_eq!(d.add_dict_uint("more", 0), Err(DataError::Full(256)));
    }

    #[test]
    fn strings_are_cut_at_dpdk_lengths() {
        let mut d = Data::new();
        d.start_dict();
        d.add_dict_string("s", &"x".repeat(300)).unwrap();
        let Kind::Dict(e) = &d.kind else { panic!() };
        assert_eq!(e[0].1, Value::String("x".repeat(127)));
        // A multi-byte character is not split.
        let mut a = Data::new();
        a.start_array(ValueType::String);
        a.add_array_string(&format!("{}é", "y".repeat(126)))
            .unwrap();
        let Kind::Array(_, v) = &a.kind else { panic!() };
        assert_eq!(v[0], Value::String("y".repeat(126)));
        d.set_string(&"z".repeat(10_000));
        assert_eq!(d.kind, Kind::String("z".repeat(8191)));
    }

    #[test]
    fn containers_nest_one_array_level_as_dpdk() {
        let mut inner = Data::new();
        inner.start_array(ValueType::Container);
        let mut outer = Data::new();
        outer.start_dict();
        assert_eq!(
            outer.add_dict_container("c", inner),
            Err(DataError::BadContainer)
        );
        assert_eq!(
            outer.add_dict_container("n", Data::new()),
            Err(DataError::BadContainer)
        );
        let mut dict = Data::new();
        dict.start_dict();
        outer.add_dict_container("d", dict.clone()).unwrap();
        let mut arr = Data::new();
        arr.start_array(ValueType::Container);
        arr.add_array_container(dict).unwrap();
    }

    #[test]
    fn hex_values() {
        assert_eq!(hex(0x3ff, 0), "0x3ff");
        assert_eq!(hex(0x3ff, 32), "0x000003ff");
        assert_eq!(hex(5, 6), "0x05");
    }
}
