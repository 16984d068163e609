//! SplitMix64, the one pseudo-random step the search and the simulation
//! share: small, fast, and the same everywhere, so a seed replays a run.

/// The next number from `state` (advancing it).
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    /// The reference sequence for seed 0 (Vigna's splitmix64.c).
    #[test]
    fn seed_zero_gives_the_reference_sequence() {
        let mut s = 0u64;
        assert_eq!(super::splitmix64(&mut s), 0xe220_a839_7b1d_cdaf);
        assert_eq!(super::splitmix64(&mut s), 0x6e78_9e6a_a1b9_65f4);
    }
}
