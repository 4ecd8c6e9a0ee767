//! The lcore flags: `-l`/`--lcores` core lists and maps, and the `-c` core mask.

use std::collections::BTreeMap;

use crate::cpuset::{CpuSet, MAX_CPUS};
use crate::lcore::MAX_LCORE;

/// Which lcores the EAL runs and the CPUs each one is pinned to.
pub type LcoreMap = BTreeMap<u32, CpuSet>;

/// Parses DPDK's `--lcores` syntax, which rpdk also accepts for `-l`:
/// `<lcores[@cpus]>[,<lcores[@cpus]>...]`.
///
/// - `0-3,6`: lcores 0..=3 and 6, each on the CPU of the same number;
/// - `1@2`: lcore 1 on CPU 2; `(0-3)@1`: lcores 0..=3 all on CPU 1;
/// - `(0-3)@(0-1)`: lcores 0..=3, each allowed on CPUs 0 and 1;
/// - `(0,1)`: lcores 0 and 1, each allowed on CPUs 0 and 1.
///
/// As in DPDK, a range of lcores before `@` must be a group: `0-1@(0,1)` is refused,
/// `(0-1)@(0,1)` is the form.
///
/// Returns a reason on error; the caller adds the flag and value.
pub fn parse_lcores(input: &str) -> Result<LcoreMap, String> {
    let mut map = LcoreMap::new();
    let mut rest = input.trim();
    if rest.is_empty() {
        return Err("empty core list".into());
    }
    loop {
        rest = rest.trim_start();
        let (lcores, lcores_form, after) = parse_set(rest)?;
        let (cpus, after) = match after.trim_start().strip_prefix('@') {
            Some(cpu_part) => {
                if lcores_form == SetForm::Range {
                    let range = rest[..rest.len() - after.len()].trim();
                    return Err(format!(
                        "a range of lcores before '@' must be a group: write ({range})@..."
                    ));
                }
                let (cpus, _, after) = parse_set(cpu_part.trim_start())?;
                (Some(cpus), after)
            }
            None => (None, after),
        };
        for lcore in lcores.iter() {
            if lcore >= MAX_LCORE as usize {
                return Err(format!(
                    "lcore {lcore} is out of range (max {})",
                    MAX_LCORE - 1
                ));
            }
            let set = match (&cpus, lcores_form) {
                (Some(c), _) => *c,
                // `a-b` without '@': every lcore on its own CPU.
                (None, SetForm::Range) | (None, SetForm::Single) => CpuSet::single(lcore),
                // `(set)` without '@': every lcore on the whole set.
                (None, SetForm::Group) => lcores,
            };
            map.insert(lcore as u32, set);
        }
        let after = after.trim_start();
        if after.is_empty() {
            break;
        }
        match after.strip_prefix(',') {
            Some(next) if !next.trim().is_empty() => rest = next,
            Some(_) => return Err("trailing ','".into()),
            None => {
                return Err(format!(
                    "unexpected '{}' (expected ',' or '@')",
                    after.chars().next().unwrap_or(' ')
                ));
            }
        }
    }
    Ok(map)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SetForm {
    Single,
    Range,
    Group,
}

/// Parses `N`, `N-M` or `(list)` at the start of `s`; returns the set, its form and the rest.
fn parse_set(s: &str) -> Result<(CpuSet, SetForm, &str), String> {
    if let Some(inner) = s.strip_prefix('(') {
        let close = inner
            .find(')')
            .ok_or_else(|| "'(' without a matching ')'".to_string())?;
        let body = &inner[..close];
        if body.trim().is_empty() {
            return Err("empty group '()'".into());
        }
        let mut set = CpuSet::new();
        for part in body.split(',') {
            let (lo, hi, rest) = parse_range(part.trim())?;
            if !rest.trim().is_empty() {
                return Err(format!("unexpected '{}' in group", rest.trim()));
            }
            (lo.min(hi)..=lo.max(hi)).for_each(|c| set.insert(c));
        }
        let rest = &inner[close + 1..];
        if rest.trim_start().starts_with('(') {
            return Err("two groups without a separator".into());
        }
        Ok((set, SetForm::Group, rest))
    } else {
        let (lo, hi, rest) = parse_range(s)?;
        let mut set = CpuSet::new();
        (lo.min(hi)..=lo.max(hi)).for_each(|c| set.insert(c));
        let form = if !s[..s.len() - rest.len()].contains('-') {
            SetForm::Single
        } else {
            SetForm::Range
        };
        Ok((set, form, rest))
    }
}

/// Parses `N` or `N-M` at the start of `s`.
fn parse_range(s: &str) -> Result<(usize, usize, &str), String> {
    let (lo, rest) = parse_number(s)?;
    let rest_trim = rest.trim_start();
    if let Some(after_dash) = rest_trim.strip_prefix('-') {
        let (hi, rest) = parse_number(after_dash.trim_start())?;
        Ok((lo, hi, rest))
    } else {
        Ok((lo, lo, rest))
    }
}

fn parse_number(s: &str) -> Result<(usize, &str), String> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return Err(match s.chars().next() {
            Some(c) => format!("'{c}' is not a number"),
            None => "a number is missing".to_string(),
        });
    }
    let n: usize = s[..end]
        .parse()
        .map_err(|_| format!("'{}' is too large", &s[..end]))?;
    if n >= MAX_CPUS {
        return Err(format!("{n} is out of range (max {})", MAX_CPUS - 1));
    }
    Ok((n, &s[end..]))
}

/// The CPUs of a plain core list (`1-3,8`) or, with `mask`, of a hexadecimal core mask, for
/// `--remap-lcore-ids`: CPUs may go up to 1023, since the lcore ids are given afresh.
pub fn parse_cpus(input: &str, mask: bool) -> Result<Vec<usize>, String> {
    let mut set = CpuSet::new();
    if mask {
        let s = input.trim();
        let s = s
            .strip_prefix("0x")
            .or_else(|| s.strip_prefix("0X"))
            .unwrap_or(s);
        for (pos, c) in s.chars().rev().enumerate() {
            let v = c
                .to_digit(16)
                .ok_or_else(|| format!("'{c}' is not a hexadecimal digit"))?;
            for bit in (0..4).filter(|b| v & (1 << b) != 0) {
                let cpu = pos * 4 + bit;
                if cpu >= MAX_CPUS {
                    return Err(format!(
                        "bit {cpu} is set but CPUs go up to {}",
                        MAX_CPUS - 1
                    ));
                }
                set.insert(cpu);
            }
        }
    } else {
        if input.contains(['@', '(']) {
            return Err("'@' and groups '()' cannot be used when remapping lcore ids".into());
        }
        if input.trim().is_empty() {
            return Err("empty core list".into());
        }
        for part in input.split(',') {
            let (lo, hi, rest) = parse_range(part.trim())?;
            if !rest.trim().is_empty() {
                return Err(format!("unexpected '{}'", rest.trim()));
            }
            (lo.min(hi)..=lo.max(hi)).for_each(|c| set.insert(c));
        }
    }
    let cpus: Vec<usize> = set.iter().collect();
    if cpus.is_empty() {
        return Err("no CPU selected".into());
    }
    Ok(cpus)
}

/// `--remap-lcore-ids`: lcores `base`, `base + 1`... on `cpus` in order, one CPU each.
pub fn remap(cpus: &[usize], base: u32) -> Result<LcoreMap, String> {
    if base as usize + cpus.len() > MAX_LCORE as usize {
        return Err(format!(
            "{} lcores from {base} go past lcore {}",
            cpus.len(),
            MAX_LCORE - 1
        ));
    }
    Ok(cpus
        .iter()
        .enumerate()
        .map(|(i, &cpu)| (base + i as u32, CpuSet::single(cpu)))
        .collect())
}

/// Parses a hexadecimal core mask (`-c 0x3`): lcore `i` on CPU `i` for every bit `i` set.
pub fn parse_coremask(input: &str) -> Result<LcoreMap, String> {
    let s = input.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if s.is_empty() {
        return Err("empty core mask".into());
    }
    let mut map = LcoreMap::new();
    for (pos, c) in s.chars().rev().enumerate() {
        let v = c
            .to_digit(16)
            .ok_or_else(|| format!("'{c}' is not a hexadecimal digit"))?;
        for bit in 0..4 {
            if v & (1 << bit) != 0 {
                let lcore = pos * 4 + bit;
                if lcore >= MAX_LCORE as usize {
                    return Err(format!(
                        "bit {lcore} is set but lcores go up to {}",
                        MAX_LCORE - 1
                    ));
                }
                map.insert(lcore as u32, CpuSet::single(lcore));
            }
        }
    }
    if map.is_empty() {
        return Err("the mask selects no core".into());
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(map: &LcoreMap) -> String {
        map.iter()
            .map(|(l, c)| format!("{l}@{c}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn good_lists() {
        let cases = [
            ("0", "0@0"),
            ("0-3", "0@0 1@1 2@2 3@3"),
            ("0,2,4", "0@0 2@2 4@4"),
            ("0-1,3", "0@0 1@1 3@3"),
            ("3-1", "1@1 2@2 3@3"),
            ("1@2", "1@2"),
            ("(0-3)@1", "0@1 1@1 2@1 3@1"),
            ("1@2-3", "1@2-3"),
            (
                "0-1,2@(5-7),(3-5)@(0,2),(0,6),7",
                "0@0,6 1@1 2@5-7 3@0,2 4@0,2 5@0,2 6@0,6 7@7",
            ),
            ("(0-3)@(0-1)", "0@0-1 1@0-1 2@0-1 3@0-1"),
            ("(0,1)", "0@0-1 1@0-1"),
            ("0,(1-2)@3,4@(0,2)", "0@0 1@3 2@3 4@0,2"),
            (" 1 , 2 ", "1@1 2@2"),
            ("10@0", "10@0"),
            ("1@(0-1),2", "1@0-1 2@2"),
        ];
        for (input, want) in cases {
            let map = parse_lcores(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(show(&map), want, "input {input}");
        }
    }

    #[test]
    fn bad_lists() {
        let cases = [
            ("", "empty core list"),
            ("x", "'x' is not a number"),
            ("0-", "a number is missing"),
            ("1,", "trailing ','"),
            ("(0-1", "'(' without a matching ')'"),
            ("()", "empty group"),
            ("1@", "a number is missing"),
            ("128", "lcore 128 is out of range (max 127)"),
            ("0@1024", "1024 is out of range (max 1023)"),
            ("1;2", "unexpected ';'"),
            ("(1)(2)", "two groups without a separator"),
            ("0-1-2", "unexpected '-'"),
            (
                "0-1@(0,1)",
                "a range of lcores before '@' must be a group: write (0-1)@",
            ),
            ("1-3@(1,3)", "write (1-3)@"),
            ("(2-4)@(2-4-6)", "unexpected '-6' in group"),
            ("3@((1,3)", "'(' is not a number"),
            ("(4-7)=(1,3)", "unexpected '='"),
            ("[4-7]@(1,3)", "'[' is not a number"),
            ("0-1,,2", "',' is not a number"),
            ("0-,1", "',' is not a number"),
            ("(0-,2-4)", "a number is missing"),
            ("(-1,2)", "'-' is not a number"),
            ("(a,2)", "'a' is not a number"),
            ("1#2", "unexpected '#'"),
            ("-5", "'-' is not a number"),
        ];
        for (input, want) in cases {
            let err = parse_lcores(input).expect_err(input);
            assert!(
                err.contains(want),
                "input {input:?}: got {err:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn remapped_lcores() {
        let cpus = parse_cpus("200-201,5", false).unwrap();
        assert_eq!(cpus, [5, 200, 201]);
        assert_eq!(show(&remap(&cpus, 0).unwrap()), "0@5 1@200 2@201");
        assert_eq!(show(&remap(&cpus, 10).unwrap()), "10@5 11@200 12@201");
        assert_eq!(parse_cpus("0x300", true).unwrap(), [8, 9]);
        assert!(parse_cpus("1@2", false).unwrap_err().contains("'@'"));
        assert!(parse_cpus("(1,2)", false).unwrap_err().contains("groups"));
        assert!(remap(&cpus, 126).unwrap_err().contains("go past lcore 127"));
        assert!(
            parse_cpus("1024", false)
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn coremasks() {
        assert_eq!(show(&parse_coremask("0x3").unwrap()), "0@0 1@1");
        assert_eq!(show(&parse_coremask("A").unwrap()), "1@1 3@3");
        assert_eq!(show(&parse_coremask("0X10").unwrap()), "4@4");
        assert!(parse_coremask("0x0").unwrap_err().contains("no core"));
        assert!(parse_coremask("0xg").unwrap_err().contains("'g'"));
        assert!(parse_coremask("").unwrap_err().contains("empty"));
        let huge = format!("1{}", "0".repeat(32));
        assert!(parse_coremask(&huge).unwrap_err().contains("bit 128"));
    }
}
