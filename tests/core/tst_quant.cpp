// Quantizer tests: tile geometry, RTN (error bounds, clip search, degenerate groups, outliers,
// mixed widths), GPTQ (beats RTN on the output error, dead columns, equals RTN for diagonal H) and
// the per-tile cost table against a direct computation.
// LibTorch before Qt: Qt's `slots` keyword macro breaks torch's IValue::slots().
#include <torch/torch.h>

#include <QtTest>

#include "core/quant/gptq.h"
#include "core/quant/rtn.h"
#include "core/quant/tile_costs.h"
#include "core/util/error.h"

using namespace scalebits;
using namespace scalebits::quant;

Q_DECLARE_METATYPE(TileSpec)

namespace {

// Per-group reduction of an N x K tensor: [N, G] of max over each group's columns.
torch::Tensor group_max(const torch::Tensor& v, const TileSpec& s) {
    const auto n = v.size(0), k = v.size(1), groups = s.groups_per_row(k);
    auto p = torch::nn::functional::pad(v, torch::nn::functional::PadFuncOptions({0, groups * s.group - k}));
    return p.view({n, groups, s.group}).amax(-1);
}
torch::Tensor group_sum(const torch::Tensor& v, const TileSpec& s) {
    const auto n = v.size(0), k = v.size(1), groups = s.groups_per_row(k);
    auto p = torch::nn::functional::pad(v, torch::nn::functional::PadFuncOptions({0, groups * s.group - k}));
    return p.view({n, groups, s.group}).to(torch::kFloat64).sum(-1);
}
bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }
bool fp16_exact(const torch::Tensor& t) {
    return torch::equal(t, t.to(torch::kFloat16).to(torch::kFloat32));
}
// Checks every invariant of a quantized matrix: value ranges per tile width, fp16 scales > 0,
// finite output.
void check_invariants(const QuantizedMatrix& q) {
    QVERIFY(all_finite(q.scales));
    QVERIFY((q.scales > 0).all().item<bool>());
    QVERIFY(fp16_exact(q.scales));
    auto maxq_group = torch::pow(2, group_widths(q.widths, q.spec, q.rows, q.cols).to(torch::kInt32)) - 1;
    QVERIFY((q.zeros.to(torch::kInt32) <= maxq_group).all().item<bool>());
    auto maxq_col = maxq_group.repeat_interleave(q.spec.group, 1).slice(1, 0, q.cols);
    QVERIFY((q.codes.to(torch::kInt32) <= maxq_col).all().item<bool>());
    QVERIFY(all_finite(q.dequantize()));
}
// Low-rank plus noise inputs (so H has strong off-diagonal structure) and H = X^T X.
torch::Tensor correlated_hessian(std::int64_t k, std::int64_t samples) {
    auto basis = torch::randn({16, k});
    auto x = torch::randn({samples, 16}).matmul(basis) + 0.3 * torch::randn({samples, k});
    return x.t().matmul(x);
}

}  // namespace

class TestQuant : public QObject {
    Q_OBJECT
private slots:
    void initTestCase() { torch::manual_seed(1234); }

    void tileSpec() {
        TileSpec s;
        QCOMPARE(s.grid_rows(300), 3);
        QCOMPARE(s.grid_cols(260), 3);
        QCOMPARE(s.num_tiles(300, 260), 9);
        auto b = s.tile_bounds(300, 260, 8);
        QCOMPARE(b.row0, 256);
        QCOMPARE(b.row1, 300);
        QCOMPARE(b.col0, 256);
        QCOMPARE(b.col1, 260);
        QCOMPARE(s.tile_bounds(300, 260, 5).col0, 256);
        QCOMPARE(s.tile_bounds(300, 260, 5).row0, 128);
        QVERIFY_THROWS_EXCEPTION(InputError, s.tile_bounds(300, 260, 9));
        QCOMPARE(TileSpec::automatic({576, 1536}).group, 64);
        QCOMPARE(TileSpec::automatic({512, 1536}).group, 128);
        QCOMPARE(TileSpec::automatic({512}, 128, 96).group, 32);
        QCOMPARE(TileSpec{}.groups_per_row(1000), 8);
        QVERIFY_THROWS_EXCEPTION(InputError, (TileSpec{128, 128, 96}.validate()));
        QVERIFY_THROWS_EXCEPTION(InputError, (TileSpec{0, 128, 64}.validate()));
    }

    void rtnErrorBound_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::addColumn<TileSpec>("spec");
        QTest::newRow("172x64") << 172 << 64 << TileSpec::automatic({172, 64});
        QTest::newRow("1x1000") << 1 << 1000 << TileSpec::automatic({1, 1000});
        QTest::newRow("576x1536") << 576 << 1536 << TileSpec::automatic({576, 1536});
        QTest::newRow("300x260 g128") << 300 << 260 << TileSpec{128, 128, 128};
        QTest::newRow("300x260 g64 tiles 64x96") << 300 << 260 << TileSpec{64, 96, 32};
    }
    void rtnErrorBound() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        QFETCH(TileSpec, spec);
        auto w = torch::randn({rows, cols}) * 0.02 + 0.003;
        double prev = 1e30;
        for (int bits : {2, 3, 4, 5, 6, 7, 8}) {
            auto q = quantize_rtn(w, spec, bits, {}, RtnOptions::no_clip());
            check_invariants(q);
            auto err = (w - q.dequantize()).abs();
            auto bound = q.scales * (0.5 + 1e-4);
            QVERIFY2((group_max(err, spec) <= bound).all().item<bool>(),
                     qPrintable(QStringLiteral("bound violated at %1 bits").arg(bits)));
            // With the clip search the relative error still falls with every extra bit.
            auto qc = quantize_rtn(w, spec, bits);
            check_invariants(qc);
            double rel = ((w - qc.dequantize()).norm() / w.norm()).item<double>();
            QVERIFY2(rel < prev, qPrintable(QStringLiteral("%1 bits: %2 >= %3").arg(bits).arg(rel).arg(prev)));
            prev = rel;
        }
        QVERIFY(prev < 0.01);  // 8 bits on Gaussian data
    }

    void clipNeverWorse() {
        TileSpec spec{128, 128, 64};
        // Heavy-tailed weights: clipping pays off at low widths.
        auto w = torch::randn({200, 300}) * torch::exp(0.7 * torch::randn({200, 300}));
        auto fisher = torch::rand({200, 300}).square();
        for (int bits : {2, 3, 4, 8}) {
            auto ew = ErrorWeights::fisher(fisher);
            auto plain = quantize_rtn(w, spec, bits, ew, RtnOptions::no_clip());
            auto clip = quantize_rtn(w, spec, bits, ew);
            auto e_plain = group_sum(fisher * (w - plain.dequantize()).square(), spec);
            auto e_clip = group_sum(fisher * (w - clip.dequantize()).square(), spec);
            QVERIFY((e_clip <= e_plain * (1 + 1e-6)).all().item<bool>());
            if (bits <= 3) QVERIFY(e_clip.sum().item<double>() < 0.95 * e_plain.sum().item<double>());
        }
    }

    void degenerateGroups() {
        TileSpec spec{128, 128, 64};
        auto w = torch::randn({4, 320});
        w.slice(1, 0, 64).zero_();                       // all zero
        w.slice(1, 64, 128).fill_(0.5);                  // constant, fp16 exact
        w.slice(1, 128, 192).fill_(-3.25);               // negative constant
        w.slice(1, 192, 256).fill_(1e-3);                // constant, not an fp16 value
        w.slice(1, 256, 320).fill_(1e-40);               // float denormal
        w[3].zero_();                                    // a dead row
        for (int bits : {2, 3, 4, 8}) {
            for (const auto& opts : {RtnOptions{}, RtnOptions::no_clip()}) {
                auto q = quantize_rtn(w, spec, bits, {}, opts);
                check_invariants(q);
                auto d = q.dequantize();
                QVERIFY(torch::equal(d.slice(1, 0, 192), w.slice(1, 0, 192)));
                QVERIFY(torch::equal(d[3], w[3]));
                QVERIFY(torch::allclose(d.slice(1, 192, 256), w.slice(1, 192, 256), 1e-3, 0));
                QVERIFY((d.slice(1, 256, 320).abs() < 1e-7).all().item<bool>());
                QVERIFY((q.codes.slice(1, 0, 64) == q.zeros.select(1, 0).unsqueeze(1)).all().item<bool>());
            }
        }
        // A constant edge group shorter than g (padding must not break the constant test).
        auto edge = torch::full({2, 70}, 0.75f);
        auto qe = quantize_rtn(edge, spec, 2);
        QVERIFY(torch::equal(qe.dequantize(), edge));
    }

    void outliers() {
        TileSpec spec{128, 128, 64};
        auto w = torch::randn({16, 256}) * 0.01;
        w[0][5] = 1e4;
        w[1][70] = 1e5;   // beyond the fp16 range as a value
        w[2][130] = -1e6;
        w[3][200] = 3e38;  // near the float limit: the scale saturates at 65504
        w[4][10] = -3e38;
        w[4][11] = 3e38;
        for (int bits : {2, 3, 4, 8}) {
            for (const auto& opts : {RtnOptions{}, RtnOptions::no_clip()}) {
                auto q = quantize_rtn(w, spec, bits, ErrorWeights::fisher(torch::rand({16, 256})), opts);
                check_invariants(q);
                QVERIFY(q.scales.max().item<float>() <= 65504.f);
            }
            auto q = quantize_rtn(w, spec, bits, {}, RtnOptions::no_clip());
            auto d = q.dequantize();
            // Outliers within the fp16 scale range are still bounded by half a step.
            QVERIFY(std::abs(d[0][5].item<float>() - 1e4f) <= q.scales[0][0].item<float>() * 0.5001f);
            QVERIFY(std::abs(d[1][70].item<float>() - 1e5f) <= q.scales[1][1].item<float>() * 0.5001f);
        }
        auto bad = torch::randn({4, 64});
        bad[1][2] = std::numeric_limits<float>::quiet_NaN();
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_rtn(bad, spec, 4));
        bad[1][2] = std::numeric_limits<float>::infinity();
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_rtn(bad, spec, 4));
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_rtn(torch::randn({4, 64}), spec, 9));
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_rtn(torch::randn({4, 64}), spec, 1));
    }

    void mixedWidths() {
        TileSpec spec{128, 128, 64};
        auto w = torch::randn({300, 260});
        auto widths = torch::randint(2, 9, {3, 3}).to(torch::kUInt8);
        auto fisher = torch::rand({300, 260});
        auto q = quantize_rtn(w, spec, widths, ErrorWeights::fisher(fisher));
        check_invariants(q);
        QVERIFY(torch::equal(q.widths, widths));
        // Groups are independent in RTN: every tile equals a uniform run at its own width.
        for (std::int64_t t = 0; t < 9; ++t) {
            const int b = widths.view({-1})[t].item<int>();
            auto u = quantize_rtn(w, spec, b, ErrorWeights::fisher(fisher));
            auto tb = spec.tile_bounds(300, 260, t);
            auto tile = [&](const torch::Tensor& c) { return c.slice(0, tb.row0, tb.row1).slice(1, tb.col0, tb.col1); };
            QVERIFY(torch::equal(tile(q.codes), tile(u.codes)));
            QVERIFY(tile(q.codes).max().item<int>() <= (1 << b) - 1);
        }
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_rtn(w, spec, torch::full({2, 3}, 4).to(torch::kUInt8)));
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_rtn(w, spec, torch::full({3, 3}, 1).to(torch::kUInt8)));
    }

    void gptqBeatsRtn() {
        TileSpec spec{128, 128, 64};
        const std::int64_t n = 192, k = 320;
        auto w = torch::randn({n, k}) * 0.05;
        auto h = correlated_hessian(k, 1024);
        for (int bits : {2, 3}) {
            auto rtn = quantize_rtn(w, spec, bits);
            auto gptq = quantize_gptq(w, h, spec, bits);
            check_invariants(gptq);
            const double e_rtn = output_error(w, rtn.dequantize(), h);
            const double e_gptq = output_error(w, gptq.dequantize(), h);
            qInfo("%d bits: output error RTN %.4g, GPTQ %.4g (ratio %.3f)", bits, e_rtn, e_gptq, e_gptq / e_rtn);
            QVERIFY(e_gptq < 0.9 * e_rtn);
            // Fisher-steered clip search (full and factored) keeps the GPTQ advantage.
            auto fisher = torch::rand({n, k});
            GptqOptions steered;
            steered.compensated_clip = false;
            for (const auto& ew : {ErrorWeights::fisher(fisher),
                                   ErrorWeights::factored(torch::rand({n}), torch::rand({k}))}) {
                auto gw = quantize_gptq(w, h, spec, bits, ew, steered);
                check_invariants(gw);
                QVERIFY(output_error(w, gw.dequantize(), h) < 0.9 * e_rtn);
            }
        }
        // Mixed widths: every column uses its tile's width.
        auto widths = torch::tensor({2, 4, 3, 8, 3, 2}).to(torch::kUInt8).view({2, 3});
        auto mixed = quantize_gptq(w, h, spec, widths);
        check_invariants(mixed);
        QVERIFY(output_error(w, mixed.dequantize(), h) <
                output_error(w, quantize_rtn(w, spec, widths).dequantize(), h));
    }

    // The clip search weighing column j by U_jj^-2 (what an error there costs after GPTQ's
    // compensation) gives a lower output error than weighing it by E[x_j^2] (the factored Fisher's
    // column profile, what the analysis hands GPTQ) on correlated inputs. Unweighted is printed
    // beside them: at 3 bits it can come out lower than either.
    void gptqCompensatedClipLowersOutputError() {
        TileSpec spec{128, 128, 64};
        const std::int64_t n = 192, k = 320;
        auto w = torch::randn({n, k}) * 0.05;
        auto h = correlated_hessian(k, 1024);
        const auto c = ErrorWeights::factored(torch::ones({n}), h.diagonal().clone());
        GptqOptions off;
        off.compensated_clip = false;
        for (int bits : {2, 3, 4}) {
            const double on = output_error(w, quantize_gptq(w, h, spec, bits, c).dequantize(), h);
            const double by_c = output_error(w, quantize_gptq(w, h, spec, bits, c, off).dequantize(), h);
            const double plain = output_error(w, quantize_gptq(w, h, spec, bits, {}, off).dequantize(), h);
            qInfo("%d bits: output error compensated %.4g, E[x^2]-weighted %.4g, unweighted %.4g", bits, on, by_c, plain);
            QVERIFY(on < by_c);
        }
    }

    void gptqAwkwardShapes_data() {
        QTest::addColumn<int>("rows");
        QTest::addColumn<int>("cols");
        QTest::newRow("1x1000") << 1 << 1000;
        QTest::newRow("172x64") << 172 << 64;
        QTest::newRow("300x260") << 300 << 260;
    }
    void gptqAwkwardShapes() {
        QFETCH(int, rows);
        QFETCH(int, cols);
        const auto spec = TileSpec::automatic({rows, cols});
        auto w = torch::randn({rows, cols}) * 0.05;
        auto h = correlated_hessian(cols, 256);  // rank-deficient for K = 1000: damping matters
        auto widths = torch::randint(2, 9, {spec.grid_rows(rows), spec.grid_cols(cols)}).to(torch::kUInt8);
        const auto w_before = w.clone();
        auto g = quantize_gptq(w, h, spec, widths);
        QVERIFY(torch::equal(w, w_before));  // the caller's matrix is never updated in place
        check_invariants(g);
        QCOMPARE(g.codes.size(0), rows);
        QCOMPARE(g.codes.size(1), cols);
        QVERIFY(output_error(w, g.dequantize(), h) < output_error(w, quantize_rtn(w, spec, widths).dequantize(), h));
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_gptq(w, h, spec, widths, ErrorWeights::factored(torch::rand({rows + 1}), torch::rand({cols}))));
    }

    void gptqDiagonalHessianEqualsRtn() {
        // With a diagonal H no error is propagated, so GPTQ must reproduce RTN exactly (same
        // group search on the same values), including edge groups and mixed widths.
        TileSpec spec{128, 128, 64};
        auto w = torch::randn({130, 200});
        auto h = torch::diag(torch::rand({200}) + 0.5);
        auto widths = torch::tensor({3, 5, 2, 8}).to(torch::kUInt8).view({2, 2});
        GptqOptions plain_clip;  // the compensated clip weighs columns by H_jj + damping, RTN does not
        plain_clip.compensated_clip = false;
        auto g = quantize_gptq(w, h, spec, widths, {}, plain_clip);
        auto r = quantize_rtn(w, spec, widths);
        QVERIFY(torch::equal(g.codes, r.codes));
        QVERIFY(torch::equal(g.scales, r.scales));
        QVERIFY(torch::equal(g.zeros, r.zeros));
    }

    void gptqDeadColumns() {
        TileSpec spec{128, 128, 64};
        const std::int64_t k = 192;
        auto x = torch::randn({512, k});
        x.slice(1, 10, 20).zero_();  // inputs that never fire
        x.select(1, 100).zero_();
        auto h = x.t().matmul(x);
        auto w = torch::randn({64, k});
        auto q = quantize_gptq(w, h, spec, 3);
        check_invariants(q);
        auto d = q.dequantize();
        QVERIFY((d.slice(1, 10, 20) == 0).all().item<bool>());
        QVERIFY((d.select(1, 100) == 0).all().item<bool>());
        // An all-zero Hessian (every input dead) still works.
        auto all_dead = quantize_gptq(w, torch::zeros({k, k}), spec, 4);
        QVERIFY((all_dead.dequantize() == 0).all().item<bool>());
        // Bad Hessians are input errors.
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_gptq(w, torch::zeros({k, k + 1}), spec, 3));
        auto nan_h = h.clone();
        nan_h[0][0] = std::numeric_limits<float>::quiet_NaN();
        QVERIFY_THROWS_EXCEPTION(InputError, quantize_gptq(w, nan_h, spec, 3));
    }

    void gptqOutliersFinite() {
        TileSpec spec{128, 128, 64};
        auto w = torch::randn({32, 128}) * 0.01;
        w[0][3] = 1e5;
        w[5][64] = -1e4;
        auto q = quantize_gptq(w, correlated_hessian(128, 256), spec, 2);
        check_invariants(q);
    }

    // The fused CPU pass against the tensor-op definition: awkward shapes (edge tiles, a last group
    // shorter than g), each kind of weights, constant and all-zero groups, outliers, all widths.
    void fusedTileCostsEqualTheReference_data() {
        QTest::addColumn<int>("kind");  // 0 none, 1 full Fisher, 2 factored
        QTest::addColumn<int>("n");
        QTest::addColumn<int>("k");
        QTest::newRow("none 37x100") << 0 << 37 << 100;
        QTest::newRow("full 300x260") << 1 << 300 << 260;
        QTest::newRow("factored 129x576") << 2 << 129 << 576;
        QTest::newRow("full 64x45") << 1 << 64 << 45;
    }
    void fusedTileCostsEqualTheReference() {
        QFETCH(int, kind);
        QFETCH(int, n);
        QFETCH(int, k);
        torch::manual_seed(n * 31 + k);
        const TileSpec spec{32, 64, 32};
        auto w = torch::randn({n, k}) * 0.02;
        w[0].fill_(0.0f);                           // all-zero groups
        w[1].fill_(-0.5f);                          // constant groups
        w[2][7] = 40.0f;                            // an outlier
        w.slice(0, 3, 4).slice(1, 0, 32).fill_(0.25f);
        ErrorWeights weights;
        if (kind == 1) weights = ErrorWeights::fisher(torch::rand({n, k}).square());
        if (kind == 2) weights = ErrorWeights::factored(torch::rand({n}), torch::rand({k}));
        const std::vector<int> widths{2, 3, 4, 5, 6, 7, 8};
        const auto fused = tile_costs(w, spec, widths, weights);
        const auto ref = tile_costs_reference(w, spec, widths, weights);
        QCOMPARE(fused.costs.sizes(), ref.costs.sizes());
        QCOMPARE(fused.group_costs.sizes(), ref.group_costs.sizes());
        QVERIFY(torch::equal(fused.elements, ref.elements));
        // Sums in another order can tip a near-tie of two clip candidates: then the group's cost
        // moves a little. Every entry within 1e-3, nearly all within 1e-5.
        auto close = [](const torch::Tensor& a, const torch::Tensor& b, double tol) {
            return ((a - b).abs() <= tol * b.abs() + 1e-12).to(torch::kDouble).mean().item<double>();
        };
        for (const auto& [a, b] : {std::pair{fused.costs, ref.costs}, std::pair{fused.group_costs, ref.group_costs}}) {
            QCOMPARE(close(a, b, 1e-3), 1.0);
            const double share = close(a, b, 1e-5);
            QVERIFY2(share >= 0.99, qPrintable(QString::number(share)));
        }
    }

    void tileCostTable() {
        TileSpec spec{128, 128, 64};
        const std::int64_t n = 300, k = 260;
        auto w = torch::randn({n, k});
        auto fisher = torch::rand({n, k}).square();
        const std::vector<int> widths{2, 3, 4, 8};
        auto table = tile_costs(w, spec, widths, ErrorWeights::fisher(fisher));
        QCOMPARE(table.costs.size(0), 9);
        QCOMPARE(table.costs.size(1), 4);
        for (std::size_t bi = 0; bi < widths.size(); ++bi) {
            auto d = quantize_rtn(w, spec, widths[bi], ErrorWeights::fisher(fisher)).dequantize();
            for (std::int64_t t = 0; t < 9; ++t) {
                auto tb = spec.tile_bounds(n, k, t);
                auto sl = [&](const torch::Tensor& v) {
                    return v.slice(0, tb.row0, tb.row1).slice(1, tb.col0, tb.col1).to(torch::kFloat64);
                };
                const double direct = 0.5 * (sl(fisher) * (sl(w) - sl(d)).square()).sum().item<double>();
                const double got = table.costs[t][static_cast<long>(bi)].item<double>();
                QVERIFY2(std::abs(got - direct) <= 1e-6 * direct + 1e-12,
                         qPrintable(QStringLiteral("tile %1 width %2: %3 vs %4").arg(t).arg(widths[bi]).arg(got).arg(direct)));
                QCOMPARE(table.elements[t].item<std::int64_t>(), tb.elements());
            }
        }
        // Costs fall with width in every tile.
        QVERIFY((table.costs.slice(1, 1, 4) < table.costs.slice(1, 0, 3)).all().item<bool>());
        // The factored form equals the full form built from r c^T.
        auto r = torch::rand({n}), c = torch::rand({k});
        auto fact = tile_costs(w, spec, widths, ErrorWeights::factored(r, c));
        auto full = tile_costs(w, spec, widths, ErrorWeights::fisher(r.unsqueeze(1) * c.unsqueeze(0)));
        QVERIFY(torch::allclose(fact.costs, full.costs, 1e-3, 1e-9));
        // No weights: plain squared error.
        auto plain = tile_costs(w, spec, {4}, {});
        auto d4 = quantize_rtn(w, spec, 4).dequantize();
        QVERIFY(std::abs(plain.costs.sum().item<double>() - 0.5 * (w - d4).to(torch::kFloat64).square().sum().item<double>()) < 1e-6);
        QVERIFY_THROWS_EXCEPTION(InputError, tile_costs(w, spec, {}, {}));
        QVERIFY_THROWS_EXCEPTION(InputError, tile_costs(w, spec, {4}, ErrorWeights::fisher(torch::rand({n, k + 1}))));
        QVERIFY_THROWS_EXCEPTION(InputError, tile_costs(w, spec, {4}, ErrorWeights::fisher(-torch::rand({n, k}))));
    }
};

QTEST_APPLESS_MAIN(TestQuant)
#include "tst_quant.moc"
