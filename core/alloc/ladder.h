#pragma once
// The exact greedy of DESIGN 2.4, precomputed once. Each item's allowed (cost, S) points are reduced
// to their lower convex hull; each hull segment is an upgrade with benefit dS/dcost, and within an
// item the benefits decrease. All upgrades of all items, sorted by decreasing benefit, form the
// ladder: the greedy solution for any budget is the longest prefix whose cumulative cost fits, so a
// re-solve is a binary search plus writing the widths out.
//
// Ties in benefit are broken by item index, then by the item's own upgrade order (a stable sort over
// upgrades generated item by item), so the ladder is deterministic and each item's prefix is
// consistent.
#include "core/alloc/item_table.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace scalebits {

class Ladder {
public:
    struct Step {
        std::uint32_t item;
        std::uint8_t from;  // candidate index before the upgrade
        std::uint8_t to;    // candidate index after it
    };

    Ladder() = default;
    // Throws InputError for malformed tables: sizes that do not match, S that is negative or not
    // finite, a class whose allowed range is empty, costs that decrease with width.
    static Ladder build(const ItemView& items);

    std::size_t items() const { return n_items_; }
    std::size_t size() const { return steps_.size(); }  // number of upgrades (prefix lengths 0..size())
    const std::vector<int>& widths() const { return widths_; }
    const std::vector<Step>& steps() const { return steps_; }

    std::int64_t min_bits() const { return cum_bits_.front(); }  // every item at its base
    std::int64_t max_bits() const { return cum_bits_.back(); }   // every upgrade taken
    std::int64_t bits_at(std::size_t prefix) const { return cum_bits_[prefix]; }
    double loss_at(std::size_t prefix) const { return cum_loss_[prefix]; }
    // Loss reduction per bit of step `step` (from the prefix sums, so up to rounding).
    double benefit_at(std::size_t step) const;

    // Longest prefix whose total cost is at most budget_bits. Throws InputError when even the base
    // allocation does not fit (what names the problem for the message, e.g. "the tiles").
    std::size_t prefix_for(std::int64_t budget_bits, const char* what = "the allocation") const;

    // Width in bits of every item after `prefix` upgrades, written from scratch (no state).
    void write_widths(std::size_t prefix, std::uint8_t* out) const;
    // Candidate index of every item at its base (prefix 0).
    std::uint8_t base_index(std::size_t item) const;
    // Positions in the ladder of one item's upgrades, ascending (the width tables locate their
    // blocks, so it costs one block scan per upgrade, not a pass over the ladder).
    std::vector<std::size_t> steps_of(std::size_t item) const;

private:
    std::vector<int> widths_;
    std::size_t n_items_ = 0;
    std::vector<Step> steps_;
    std::vector<std::int64_t> cum_bits_{0};
    std::vector<double> cum_loss_{0.0};
    // need_[k-1][item]: the ladder block (of 2^shift_ steps, numbered from 1) whose step lifts the
    // item to at least widths_[k]; 0 when its base already is, 0xFFFF when never. The width at prefix
    // p is widths_[0] plus the width steps k with need <= p >> shift_ (a branch-free, vectorizable
    // pass over W-1 streams of 16-bit values), then the steps of p's own block are applied one by one.
    std::vector<std::vector<std::uint16_t>> need_;
    int shift_ = 0;
};

// Keeps the last allocation so that a slider that moves a little is answered by applying the few
// ladder steps between the old and new prefix (forward or backward) instead of rewriting every width;
// large moves fall back to Ladder::write_widths. The ladder must outlive the resolver.
class Resolver {
public:
    explicit Resolver(const Ladder& ladder);
    // Updates widths() to the allocation for budget_bits; returns the prefix length.
    std::size_t resolve(std::int64_t budget_bits, const char* what = "the allocation");
    void set_prefix(std::size_t prefix);
    std::size_t prefix() const { return prefix_; }
    const std::vector<std::uint8_t>& widths() const { return widths_; }
    // Moves of at most this many steps are applied incrementally (random writes); larger ones rewrite
    // all widths (a streaming pass). Chosen from measurements, see bench_solver.
    std::size_t incremental_limit() const { return incremental_limit_; }

private:
    const Ladder* ladder_;
    std::vector<std::uint8_t> widths_;
    std::size_t prefix_ = 0;
    std::size_t incremental_limit_ = 0;
};

}  // namespace scalebits
