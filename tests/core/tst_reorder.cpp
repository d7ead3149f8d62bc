// Bi-directional channel reordering folded into the weights: the reordered model computes the same
// logits (stories260K always, SmolLM2 when its file is present), sensitivity-driven and random
// permutations alike; permuted statistics equal statistics recomputed on the reordered model; bad
// permutations are refused.
#include <torch/torch.h>

#include "core/calib/calib_set.h"
#include "core/calib/sensitivity.h"
#include "core/reorder/reorder.h"
#include "core/util/error.h"
#include "tst_calib_fixture.h"

// Qt after LibTorch: Qt's `slots` macro would break torch headers that name a method slots().
#include <QtTest>

using namespace scalebits;
using namespace scalebits::testing;
using model::LinearKind;

namespace {

torch::Tensor logits_of(const model::LlamaModel& m, const torch::Tensor& tokens) {
    torch::NoGradGuard g;
    return m.forward(tokens);
}

reorder::ReorderOptions all_dims() {
    reorder::ReorderOptions o;
    o.heads = true;
    o.v_dims = true;
    return o;
}

}  // namespace

class TestReorder : public QObject {
    Q_OBJECT

private:
    torch::Tensor wiki_;    // {2, 128} real text
    torch::Tensor calib_;   // {4, 64} from the calibration text

private slots:
    void initTestCase() {
        const auto& tok = *stories_checkpoint().tokenizer;
        wiki_ = text_batch(tok, kWiki, 2, 128, 1000);
        calib_ = calib::load_calibration_set(tok, kC4, 4, 64).tokens;
    }

    void sensitivityOrderKeepsLogits() {
        auto m = stories_model();
        const auto before = logits_of(*m, wiki_);
        const auto sens = calib::compute_sensitivity(*m, calib_);
        const auto perms = reorder::compute_permutations(sens, m->config(), all_dims());
        QVERIFY(!perms.is_identity());
        QCOMPARE(perms.hidden.size(), std::size_t(64));
        QCOMPARE(perms.ffn.size(), std::size_t(5));
        QCOMPARE(perms.heads.size(), std::size_t(5));
        const auto q_before = m->layers()[0].q.weight.clone();
        reorder::apply_to_model(*m, perms);
        QVERIFY(!torch::equal(q_before, m->layers()[0].q.weight));
        QVERIFY(m->lm_head().is_same(m->embedding()));  // tied stays tied
        const double d = rel_diff(logits_of(*m, wiki_), before);
        qInfo("stories260K, sensitivity order: max relative logit difference %.3e", d);
        QVERIFY(d <= 1e-4);

        // The order puts the most sensitive hidden channels first.
        const auto permuted = reorder::permute_sensitivity(sens, perms, m->config());
        const auto cols = permuted.layers[0][LinearKind::Gate].fisher.sum(0);
        QVERIFY(cols.narrow(0, 0, 16).sum().item<double>() > cols.narrow(0, 48, 16).sum().item<double>());
    }

    void randomPermutationsKeepLogits_data() {
        QTest::addColumn<quint64>("seed");
        QTest::addColumn<bool>("heads");
        QTest::newRow("seed 1, heads") << quint64(1) << true;
        QTest::newRow("seed 2, heads") << quint64(2) << true;
        QTest::newRow("seed 3, hidden+ffn only") << quint64(3) << false;
    }
    void randomPermutationsKeepLogits() {
        QFETCH(quint64, seed);
        QFETCH(bool, heads);
        auto m = stories_model();
        const auto before = logits_of(*m, wiki_);
        const auto perms = reorder::random_permutations(m->config(), seed, heads);
        reorder::apply_to_model(*m, perms);
        const double d = rel_diff(logits_of(*m, wiki_), before);
        QVERIFY2(d <= 1e-4, qPrintable(QStringLiteral("relative difference %1").arg(d)));

        // Applying the inverse restores every weight exactly (a gather moves values, never rounds).
        reorder::Permutations inv;
        inv.hidden = reorder::inverse(perms.hidden);
        for (const auto& p : perms.ffn) inv.ffn.push_back(reorder::inverse(p));
        auto fresh = stories_model();
        if (!heads) {
            reorder::apply_to_model(*m, inv);
            for (int k = 0; k < model::kLinearKinds; ++k)
                QVERIFY(torch::equal(m->layers()[3].linear(static_cast<LinearKind>(k)).weight,
                                     fresh->layers()[3].linear(static_cast<LinearKind>(k)).weight));
            QVERIFY(torch::equal(m->embedding(), fresh->embedding()));
            QVERIFY(torch::equal(m->final_norm(), fresh->final_norm()));
        }
    }

    // The statistics of the reordered layout, computed by permutation, equal a recalibration of
    // the reordered model on the same sequences.
    void permutedStatisticsMatchRecalibration() {
        auto m = stories_model();
        const auto sens = calib::compute_sensitivity(*m, calib_);
        const auto perms = reorder::random_permutations(m->config(), 9, true);
        const auto permuted = reorder::permute_sensitivity(sens, perms, m->config());
        reorder::apply_to_model(*m, perms);
        const auto again = calib::compute_sensitivity(*m, calib_);
        for (std::size_t l = 0; l < again.layers.size(); ++l) {
            for (int k = 0; k < model::kLinearKinds; ++k) {
                const auto kind = static_cast<LinearKind>(k);
                const auto& a = permuted.layers[l][kind];
                const auto& b = again.layers[l][kind];
                QVERIFY(rel_diff(a.fisher, b.fisher) < 1e-3);
                QVERIFY(rel_diff(a.r, b.r) < 1e-3);
                QVERIFY(rel_diff(a.c, b.c) < 1e-4);
                QVERIFY(rel_diff(permuted.layers[l].hessian_of(kind), again.layers[l].hessian_of(kind)) < 1e-4);
            }
        }
        // The original statistics are untouched.
        QVERIFY(!torch::equal(sens.layers[0][LinearKind::Q].fisher, permuted.layers[0][LinearKind::Q].fisher));
    }

    void factoredSourceGivesPermutations() {
        auto m = stories_model();
        calib::SensitivityOptions opt;
        opt.fisher = false;
        opt.hessian = false;
        const auto sens = calib::compute_sensitivity(*m, calib_, opt);
        auto options = all_dims();
        QVERIFY_THROWS_EXCEPTION(InputError, reorder::compute_permutations(sens, m->config(), options));
        options.source = reorder::ReorderOptions::Source::Factored;
        const auto perms = reorder::compute_permutations(sens, m->config(), options);
        const auto before = logits_of(*m, wiki_);
        reorder::apply_to_model(*m, perms);
        QVERIFY(rel_diff(logits_of(*m, wiki_), before) <= 1e-4);
    }

    void badPermutationsAreRefused() {
        auto m = stories_model();
        reorder::Permutations p;
        p.hidden = {0, 1, 2};
        QVERIFY_THROWS_EXCEPTION(InputError, reorder::apply_to_model(*m, p));
        p = reorder::random_permutations(m->config(), 4, true);
        p.ffn[2][5] = p.ffn[2][6];
        QVERIFY_THROWS_EXCEPTION(InputError, reorder::apply_to_model(*m, p));
        p = reorder::random_permutations(m->config(), 4, true);
        p.ffn.pop_back();
        QVERIFY_THROWS_EXCEPTION(InputError, reorder::apply_to_model(*m, p));
        p = reorder::random_permutations(m->config(), 4, true);
        std::swap(p.v_dims[0][0], p.v_dims[0][static_cast<std::size_t>(m->config().head_dim)]);  // crosses heads
        QVERIFY_THROWS_EXCEPTION(InputError, reorder::apply_to_model(*m, p));
        // Nothing was applied by the refused calls.
        auto fresh = stories_model();
        QVERIFY(torch::equal(m->layers()[2].gate.weight, fresh->layers()[2].gate.weight));
    }

    void smolLm2KeepsLogits() {
        if (!std::filesystem::exists(kSmolGguf)) QSKIP("SmolLM2 GGUF not in the model cache");
        const auto ckpt = model::load_checkpoint(kSmolGguf);
        model::LlamaModel m(ckpt);
        const auto tokens = text_batch(*ckpt.tokenizer, kWiki, 1, 64, 500);
        const auto before = logits_of(m, tokens);
        const auto sens = calib::compute_sensitivity(
            m, calib::load_calibration_set(*ckpt.tokenizer, kC4, 1, 32).tokens, {true, true, false});
        auto perms = reorder::compute_permutations(sens, m.config(), all_dims());
        reorder::apply_to_model(m, perms);
        const double d = rel_diff(logits_of(m, tokens), before);
        qInfo("SmolLM2, sensitivity order: max relative logit difference %.3e", d);
        QVERIFY(d <= 1e-4);
        reorder::apply_to_model(m, reorder::random_permutations(m.config(), 5, true));
        QVERIFY(rel_diff(logits_of(m, tokens), before) <= 1e-4);
    }
};

QTEST_APPLESS_MAIN(TestReorder)
#include "tst_reorder.moc"
