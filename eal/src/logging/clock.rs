//! Wall-clock time broken down in the local time zone, for log timestamps (`localtime_r`).

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1-12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub microsecond: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// Day of the year, 0-365.
    pub yearday: u32,
    /// Offset from UTC in seconds, east positive.
    pub utc_offset: i64,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

impl LocalTime {
    /// Now.
    pub fn now() -> LocalTime {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Self::at(d.as_secs() as i64, d.subsec_micros())
    }

    /// `secs` since the epoch, with `micros`.
    pub fn at(secs: i64, micros: u32) -> LocalTime {
        let t: libc::time_t = secs as libc::time_t;
        // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: localtime_r reads `t` and writes only into `tm`, both valid for the call; it
        // is the thread-safe variant.
        let ok = !unsafe { libc::localtime_r(&t, &mut tm) }.is_null();
        if !ok {
            tm = utc_fallback(secs);
        }
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            microsecond: micros,
            weekday: tm.tm_wday as u32,
            yearday: tm.tm_yday as u32,
            utc_offset: tm.tm_gmtoff,
        }
    }

    /// `Dec01 22:31`, DPDK's `reltime` form when the minute changed.
    pub fn month_day_minute(&self) -> String {
        format!(
            "{}{:02} {:02}:{:02}",
            MONTHS[(self.month - 1) as usize],
            self.day,
            self.hour,
            self.minute
        )
    }

    /// `Tue Dec  1 22:31:33 2026`, as `ctime` without its newline.
    pub fn ctime(&self) -> String {
        format!(
            "{} {} {:2} {:02}:{:02}:{:02} {}",
            DAYS[self.weekday as usize % 7],
            MONTHS[(self.month - 1) as usize],
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.year
        )
    }

    /// ISO 8601 with microseconds and the zone: `2026-12-01T22:31:33,123456+00:00`.
    pub fn iso8601(&self) -> String {
        let off = self.utc_offset;
        let sign = if off < 0 { '-' } else { '+' };
        let off = off.unsigned_abs();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02},{:06}{sign}{:02}:{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.microsecond,
            off / 3600,
            off % 3600 / 60
        )
    }
}

/// Civil UTC time of `secs`, should `localtime_r` fail (a time outside its range).
fn utc_fallback(secs: i64) -> libc::tm {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Days to civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = (year - 1900) as i32;
    tm.tm_mon = (month - 1) as i32;
    tm.tm_mday = day as i32;
    tm.tm_hour = (rem / 3600) as i32;
    tm.tm_min = (rem % 3600 / 60) as i32;
    tm.tm_sec = (rem % 60) as i32;
    tm.tm_wday = (days + 4).rem_euclid(7) as i32;
    tm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let t = LocalTime {
            year: 2026,
            month: 12,
            day: 1,
            hour: 22,
            minute: 31,
            second: 33,
            microsecond: 4567,
            weekday: 2,
            yearday: 334,
            utc_offset: 3600 + 1800,
        };
        assert_eq!(t.ctime(), "Tue Dec  1 22:31:33 2026");
        assert_eq!(t.iso8601(), "2026-12-01T22:31:33,004567+01:30");
        assert_eq!(t.month_day_minute(), "Dec01 22:31");
        let west = LocalTime {
            utc_offset: -5 * 3600,
            ..t
        };
        assert!(west.iso8601().ends_with("-05:00"));
    }

    #[test]
    fn utc_fallback_is_civil_time() {
        let tm = utc_fallback(1_796_164_293); // 2026-12-01T22:31:33Z
        assert_eq!(
            (
                tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_wday
            ),
            (126, 11, 1, 22, 31, 33, 2)
        );
    }
}
