//! One person's cells by date, as a sorted vector: no per-entry node
//! overhead (a `BTreeMap` leaf is about half empty when filled in date
//! order), lookups by binary search, and appends (the usual case: rosters
//! are written forwards in time) at the end without moving anything.

use super::Date;

#[derive(Clone, Debug)]
pub(super) struct Row<V> {
    items: Vec<(Date, V)>,
}

impl<V> Default for Row<V> {
    fn default() -> Self {
        Row { items: Vec::new() }
    }
}

impl<V> Row<V> {
    fn find(&self, date: &Date) -> Result<usize, usize> {
        self.items.binary_search_by(|(d, _)| d.cmp(date))
    }

    pub fn get(&self, date: &Date) -> Option<&V> {
        self.find(date).ok().map(|i| &self.items[i].1)
    }

    /// Sets the value of a date; the one it replaced, if any.
    pub fn insert(&mut self, date: Date, value: V) -> Option<V> {
        if self.items.last().is_none_or(|(d, _)| *d < date) {
            self.items.push((date, value));
            return None;
        }
        match self.find(&date) {
            Ok(i) => Some(std::mem::replace(&mut self.items[i].1, value)),
            Err(i) => {
                self.items.insert(i, (date, value));
                None
            }
        }
    }

    pub fn remove(&mut self, date: &Date) -> Option<V> {
        self.find(date).ok().map(|i| self.items.remove(i).1)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Entries from `from` to `to`, both included, by date.
    pub fn range(&self, from: Date, to: Date) -> impl Iterator<Item = (&Date, &V)> {
        let start = self.items.partition_point(|(d, _)| *d < from);
        let end = self.items.partition_point(|(d, _)| *d <= to);
        self.items[start..end.max(start)]
            .iter()
            .map(|(d, v)| (d, v))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Date, &V)> {
        self.items.iter().map(|(d, v)| (d, v))
    }

    pub fn first_date(&self) -> Option<Date> {
        self.items.first().map(|(d, _)| *d)
    }

    pub fn last_date(&self) -> Option<Date> {
        self.items.last().map(|(d, _)| *d)
    }

    /// Gives back the room a bulk load left unused.
    pub fn shrink(&mut self) {
        self.items.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn date(n: u16) -> Date {
        Date(chrono::NaiveDate::from_num_days_from_ce_opt(739_000 + n as i32).unwrap_or_default())
    }

    proptest! {
        /// The row answers exactly as a BTreeMap would, in any order of
        /// inserts and removes.
        #[test]
        fn a_row_is_a_sorted_map(ops in proptest::collection::vec((any::<bool>(), 0u16..60, any::<u8>()), 0..200)) {
            let mut row = Row::default();
            let mut model = BTreeMap::new();
            for (put, day, v) in ops {
                let d = date(day);
                if put {
                    prop_assert_eq!(row.insert(d, v), model.insert(d, v));
                } else {
                    prop_assert_eq!(row.remove(&d), model.remove(&d));
                }
                prop_assert_eq!(row.get(&d), model.get(&d));
            }
            let all: Vec<_> = row.iter().map(|(d, v)| (*d, *v)).collect();
            let want: Vec<_> = model.iter().map(|(d, v)| (*d, *v)).collect();
            prop_assert_eq!(all, want);
            let some: Vec<_> = row.range(date(10), date(30)).map(|(d, v)| (*d, *v)).collect();
            let want: Vec<_> = model.range(date(10)..=date(30)).map(|(d, v)| (*d, *v)).collect();
            prop_assert_eq!(some, want);
            prop_assert_eq!(row.first_date(), model.keys().next().copied());
            prop_assert_eq!(row.last_date(), model.keys().next_back().copied());
        }
    }
}
