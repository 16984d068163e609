//! Staff requests against the roster: an unmet request is a soft finding
//! (it never blocks, and costs its weight), filed under its person. With
//! the cover weights of staffing rules this gives the roster's soft score,
//! the benchmark's objective.

use super::*;

/// The roster's soft score: what its unmet requests and its soft staffing
/// rules' shortfalls and excesses cost, each by weight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SoftScore {
    /// Unmet requests, each its weight.
    pub requests: u64,
    /// People short of a weighted staffing rule's minimum, each its weight.
    pub under: u64,
    /// People over its maximum, each its weight.
    pub over: u64,
}

impl SoftScore {
    pub fn total(&self) -> u64 {
        self.requests + self.under + self.over
    }
}

impl Findings {
    /// A person's unmet requests over the span (the table holds their
    /// cells), in date order.
    pub(super) fn unmet_of_person(&self, roster: &Roster, p: usize) -> Vec<Finding> {
        let (Some((first, last)), Some(s)) = (self.span, self.people.get(p)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in roster.requests_of(&s.id, first, last) {
            let day = (r.date.0 - first.0).num_days() as usize;
            let entry = self.table.get(day).and_then(|c| c.get(p)).copied();
            let has = entry
                .filter(|e| *e != 0)
                .and_then(|e| self.codes.get(e as usize - 1));
            let worked = |c: &str| {
                self.codes
                    .binary_search_by(|k| k.as_str().cmp(c))
                    .ok()
                    .and_then(|i| self.worked.get(i).copied())
                    .unwrap_or(true)
            };
            if r.wish.met_by(has.map(String::as_str), worked) {
                continue;
            }
            out.push(Finding {
                first: r.date,
                last: r.date,
                years: spans_years(self.span),
                rule: "request".into(),
                staff: vec![s.id.clone()],
                what: What::Request {
                    name: s.name.clone(),
                    wish: r.wish.to_string(),
                    weight: r.weight,
                    has: has.cloned(),
                },
            });
        }
        out
    }

    /// Everyone's unmet requests, read again.
    pub(super) fn read_unmet(&mut self, roster: &Roster) {
        let mut unmet = BTreeMap::new();
        if roster.request_count() > 0 {
            for p in 0..self.people.len() {
                let found = self.unmet_of_person(roster, p);
                file(&mut unmet, self.people[p].id.clone(), found);
            }
        }
        self.unmet = unmet;
    }

    /// Every unmet request, by date, then person.
    pub fn unmet_requests(&self) -> Vec<&Finding> {
        let mut v: Vec<&Finding> = self.unmet.values().flatten().collect();
        v.sort_by(|x, y| listing_order(x, y));
        v
    }

    /// A person's unmet requests, by date.
    pub fn unmet_of(&self, staff: &str) -> &[Finding] {
        self.unmet.get(staff).map_or(&[], Vec::as_slice)
    }

    /// How many requests are unmet.
    pub fn unmet_count(&self) -> usize {
        self.unmet.values().map(Vec::len).sum()
    }

    /// The roster's soft score over the planning period.
    pub fn soft_score(&self) -> SoftScore {
        let weights: std::collections::HashMap<&str, CoverWeights> = self
            .rules
            .iter()
            .filter_map(|r| match &r.kind {
                RuleKind::Staffing {
                    weights: Some(w), ..
                } => Some((r.id.as_str(), *w)),
                _ => None,
            })
            .collect();
        let mut score = SoftScore::default();
        for f in self.unmet.values().flatten() {
            if let What::Request { weight, .. } = f.what {
                score.requests += u64::from(weight);
            }
        }
        for f in self.by_date.values().flatten() {
            let Some(w) = weights.get(f.rule.as_str()) else {
                continue;
            };
            match f.what {
                What::Under { n, min, .. } => {
                    score.under += u64::from(min.saturating_sub(n)) * u64::from(w.under)
                }
                What::Over { n, max, .. } => {
                    score.over += u64::from(n.saturating_sub(max)) * u64::from(w.over)
                }
                _ => {}
            }
        }
        score
    }
}

/// "Ann Lee asked for off N on Tue 2 Mar (weight 2), has N".
pub(super) fn request_message(
    name: &str,
    wish: &str,
    weight: u32,
    has: &Option<String>,
    on: &str,
) -> String {
    let has = match has {
        Some(c) => format!("has {c}"),
        None => "has nothing".into(),
    };
    format!("{name} asked for {wish} on {on} (weight {weight}), {has}")
}

#[cfg(test)]
mod tests {
    use crate::domain::rules::Findings;
    use crate::domain::*;
    use std::sync::Arc;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn unmet_requests_are_soft_findings_kept_up_to_date_edit_by_edit() {
        let mut r = Roster::default();
        let author = Author {
            user: Arc::from("sam"),
            client: Arc::from("c1"),
        };
        let mut ops = vec![
            Op::PutCode {
                code: ShiftCode::new("E", 8.0, true),
                base: None,
            },
            Op::PutCode {
                code: ShiftCode::new("N", 10.0, true),
                base: None,
            },
            Op::PutCode {
                code: ShiftCode::new("OFF", 0.0, false),
                base: None,
            },
            Op::SetPeriod {
                from: d("2027-03-01"),
                to: d("2027-03-07"),
            },
        ];
        for id in ["ann", "bob"] {
            ops.push(Op::AddStaff {
                id: id.into(),
                name: id.into(),
                group: String::new(),
                order: None,
            });
        }
        let wishes = [
            ("ann", "2027-03-02", Wish::On { code: "E".into() }, 2),
            ("ann", "2027-03-03", Wish::Off { code: None }, 3),
            (
                "bob",
                "2027-03-02",
                Wish::Off {
                    code: Some("N".into()),
                },
                1,
            ),
            // Outside the period: never a finding.
            ("bob", "2027-04-01", Wish::Off { code: None }, 1),
        ];
        for (s, date, wish, weight) in wishes {
            ops.push(Op::PutRequest {
                request: Request {
                    weight,
                    ..Request::new(s, d(date), wish)
                },
                base: None,
            });
        }
        r.apply_batch(&ops, &author, 1).unwrap();
        let mut f = Findings::new(&r);
        // Ann has nothing on the 2nd (wants E): unmet; the 3rd empty is
        // off: met; Bob has nothing on the 2nd: met.
        assert_eq!(f.unmet_count(), 1);
        assert_eq!(f.soft_score().requests, 2);
        assert_eq!(f.len(), 0, "unmet requests are not rule findings");
        let edits: [(&str, &str, Option<&str>); 5] = [
            ("ann", "2027-03-02", Some("E")),
            ("ann", "2027-03-03", Some("N")),
            ("bob", "2027-03-02", Some("N")),
            ("ann", "2027-03-03", Some("OFF")),
            ("ann", "2027-03-02", None),
        ];
        let expected = [(0, 0), (1, 3), (2, 4), (1, 1), (2, 3)];
        for ((staff, date, code), (n, cost)) in edits.into_iter().zip(expected) {
            let op = Op::SetCell {
                staff: staff.into(),
                date: d(date),
                code: code.map(String::from),
                base: r.version(&Target::Cell {
                    staff: staff.into(),
                    date: d(date),
                }),
            };
            let a = r.apply_batch(&[op], &author, 2).unwrap();
            let changed: Vec<Target> = a.changes.iter().map(|c| c.target()).collect();
            f.update(&r, &changed);
            assert_eq!(f, Findings::new(&r), "incremental equals whole");
            assert_eq!(
                (f.unmet_count(), f.soft_score().requests),
                (n, cost),
                "after {staff} {date} {code:?}"
            );
        }
        // Requests entered, changed and withdrawn: kept up to date by
        // person, as a whole evaluation finds them.
        let asks = [
            Op::PutRequest {
                request: Request {
                    weight: 3,
                    ..Request::new("bob", d("2027-03-05"), Wish::On { code: "E".into() })
                },
                base: None,
            },
            Op::PutRequest {
                request: Request::new("ann", d("2027-03-02"), Wish::Off { code: None }),
                base: None,
            },
            Op::RemoveRequest {
                staff: "bob".into(),
                date: d("2027-03-02"),
                base: None,
            },
        ];
        for op in asks {
            let a = r
                .apply_batch(std::slice::from_ref(&op), &author, 3)
                .unwrap();
            let changed: Vec<Target> = a.changes.iter().map(|c| c.target()).collect();
            f.update(&r, &changed);
            assert_eq!(f, Findings::new(&r), "after {op:?}");
        }
        // Bob's on E on the 5th (3) is unmet; Ann's 2nd is now "off" (met,
        // empty), Bob's off N withdrawn.
        assert_eq!((f.unmet_count(), f.soft_score().requests), (1, 3));

        let msg = f.unmet_requests()[0].message();
        assert!(msg.contains("asked for") && msg.contains("weight"), "{msg}");
    }
}
