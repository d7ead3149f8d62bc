// Calibration set and sensitivity statistics on the real stories260K model: the seeded draw, the
// per-weight Fisher against finite differences and against a batched autograd computation, the
// factored statistics r, c and the Hessian H, and cancellation.
#include <torch/torch.h>

#include <sys/resource.h>

#include <atomic>

#include "core/calib/calib_set.h"
#include "core/calib/sensitivity.h"
#include "core/util/error.h"
#include "tst_calib_fixture.h"

// Qt after LibTorch: Qt's `slots` macro would break torch headers that name a method slots().
#include <QtTest>

using namespace scalebits;
using namespace scalebits::testing;
using calib::InputSite;
using model::LinearKind;

class TestCalib : public QObject {
    Q_OBJECT

private:
    // Loss of one sequence (mean next-token NLL), as compute_sensitivity defines L_s.
    static torch::Tensor seq_loss(const model::LlamaModel& m, const torch::Tensor& ids) {
        const auto logits = m.forward(ids.view({1, -1}));
        const auto L = ids.numel();
        return torch::nn::functional::cross_entropy(logits.select(0, 0).narrow(0, 0, L - 1), ids.narrow(0, 1, L - 1));
    }

    torch::Tensor calib_tokens(std::int64_t n, std::int64_t len, std::uint64_t seed = 7) {
        return calib::load_calibration_set(*stories_checkpoint().tokenizer, kC4, n, len, seed).tokens;
    }

private slots:
    // The analysis file's Hessian storage: the upper triangle unpacks to the matrix it came from
    // (odd and even sizes), and a count that is no triangle is refused.
    void hessianTrianglesRoundTrip() {
        torch::manual_seed(3);
        for (std::int64_t k : {1, 2, 7, 64, 129}) {
            const auto x = torch::randn({50, k});
            const auto h = x.t().mm(x);
            const auto packed = calib::pack_upper_triangle(h);
            QCOMPARE(packed.numel(), k * (k + 1) / 2);
            const auto back = calib::unpack_upper_triangle(packed.data_ptr<float>(), packed.numel(), "h");
            const auto upper = torch::triu(h);
            QVERIFY(torch::equal(torch::triu(back), upper));
            QVERIFY(torch::equal(back, back.t()));
        }
        const std::vector<float> five(5, 1.0f);
        QVERIFY_THROWS_EXCEPTION(InputError, calib::unpack_upper_triangle(five.data(), 5, "h"));
        QVERIFY_THROWS_EXCEPTION(InputError, calib::unpack_upper_triangle(five.data(), 0, "h"));
    }

    void initTestCase() { torch::manual_seed(0); }

    void calibrationSetIsSeededAndDrawnFromTheStream() {
        std::vector<std::int32_t> stream(1000);
        for (std::size_t i = 0; i < stream.size(); ++i) stream[i] = static_cast<std::int32_t>(i);
        const auto a = calib::make_calibration_set(stream, 8, 50, 42);
        const auto b = calib::make_calibration_set(stream, 8, 50, 42);
        const auto c = calib::make_calibration_set(stream, 8, 50, 43);
        QVERIFY(torch::equal(a.tokens, b.tokens));
        QCOMPARE(a.offsets, b.offsets);
        QVERIFY(a.offsets != c.offsets);
        QCOMPARE(a.tokens.sizes().vec(), (std::vector<std::int64_t>{8, 50}));
        // Every sequence is a contiguous slice of the stream at its offset, inside the stream.
        for (std::int64_t s = 0; s < 8; ++s) {
            const auto off = a.offsets[static_cast<std::size_t>(s)];
            QVERIFY(off >= 0 && off + 50 <= 1000);
            QCOMPARE(a.tokens[s][0].item<std::int64_t>(), off);
            QCOMPARE(a.tokens[s][49].item<std::int64_t>(), off + 49);
        }
        // Offsets are spread over the stream, not stuck at the start.
        QVERIFY(*std::max_element(a.offsets.begin(), a.offsets.end()) > 300);
        // The mt19937_64 stream is fixed by the standard, so the first offset is too.
        std::mt19937_64 rng(42);
        QCOMPARE(a.offsets[0], static_cast<std::int64_t>(rng() % 951));
    }

    void calibrationSetRejectsBadRequests() {
        const std::vector<std::int32_t> stream(40, 1);
        QVERIFY_THROWS_EXCEPTION(InputError, calib::make_calibration_set(stream, 1, 41, 1, "short.txt"));
        QVERIFY_THROWS_EXCEPTION(InputError, calib::make_calibration_set(stream, 0, 10));
        QVERIFY_THROWS_EXCEPTION(InputError, calib::make_calibration_set(stream, 2, 1));
        QCOMPARE(calib::make_calibration_set(stream, 3, 40).tokens.size(0), 3);  // exactly one start
        try {
            calib::make_calibration_set(stream, 1, 41, 1, "short.txt");
        } catch (const InputError& e) {
            QVERIFY(std::string(e.what()).find("short.txt") != std::string::npos);
            QVERIFY(std::string(e.what()).find("40 tokens") != std::string::npos);
        }
        const auto set = calib::load_calibration_set(*stories_checkpoint().tokenizer, kC4, 4, 64);
        QCOMPARE(set.tokens.size(0), 4);
        QCOMPARE(set.source, kC4);
        QVERIFY(set.stream_tokens > 10000);
    }

    // Per-weight F against central finite differences of L_s in a float64 copy of the model.
    void fisherMatchesFiniteDifferences() {
        auto m = stories_model();
        const auto tokens = calib_tokens(3, 24);
        calib::SensitivityOptions opt;
        opt.hessian = false;
        const auto sens = calib::compute_sensitivity(*m, tokens, opt);

        auto md = stories_model();
        {
            torch::NoGradGuard g;
            for (auto& l : md->layers()) {
                for (int k = 0; k < model::kLinearKinds; ++k) {
                    auto& w = l.linear(static_cast<LinearKind>(k)).weight;
                    w = w.to(torch::kDouble);
                }
                l.attn_norm = l.attn_norm.to(torch::kDouble);
                l.ffn_norm = l.ffn_norm.to(torch::kDouble);
            }
            md->final_norm() = md->final_norm().to(torch::kDouble);
            md->embedding() = md->embedding().to(torch::kDouble);
            md->lm_head() = md->embedding();
        }
        torch::NoGradGuard g;
        const struct { int layer; LinearKind kind; std::int64_t i, j; } probes[] = {
            {0, LinearKind::Q, 3, 5}, {2, LinearKind::Gate, 100, 17}, {4, LinearKind::Down, 7, 171},
            {1, LinearKind::V, 30, 63}, {3, LinearKind::O, 0, 0}};
        const double eps = 1e-5;
        for (const auto& p : probes) {
            auto& w = md->layers()[static_cast<std::size_t>(p.layer)].linear(p.kind).weight;
            double f = 0.0;
            for (std::int64_t s = 0; s < tokens.size(0); ++s) {
                const double w0 = w[p.i][p.j].item<double>();
                w[p.i][p.j].fill_(w0 + eps);
                const double up = seq_loss(*md, tokens[s]).item<double>();
                w[p.i][p.j].fill_(w0 - eps);
                const double down = seq_loss(*md, tokens[s]).item<double>();
                w[p.i][p.j].fill_(w0);
                const double grad = (up - down) / (2 * eps);
                f += grad * grad;
            }
            const double got = sens.layers[static_cast<std::size_t>(p.layer)][p.kind].fisher[p.i][p.j].item<double>();
            qInfo("F[%d %s][%lld,%lld] = %.6e, finite differences %.6e", p.layer, model::linear_kind_name(p.kind),
                  static_cast<long long>(p.i), static_cast<long long>(p.j), got, f);
            QVERIFY(f > 0);
            QVERIFY2(std::abs(got - f) <= 2e-3 * f + 1e-12, "Fisher differs from finite differences");
        }
    }

    // Whole matrices against per-sequence gradients taken from one batched forward.
    void fisherMatchesBatchedAutograd() {
        auto m = stories_model();
        const auto tokens = calib_tokens(4, 48, 11);
        calib::SensitivityOptions opt;
        opt.hessian = false;
        const auto sens = calib::compute_sensitivity(*m, tokens, opt);
        QCOMPARE(sens.sequences, 4);
        QVERIFY(std::isfinite(sens.mean_loss) && sens.mean_loss > 0);

        auto& gate = m->layers()[2].gate.weight;
        auto& o = m->layers()[4].o.weight;
        gate.requires_grad_(true);
        o.requires_grad_(true);
        const auto logits = m->forward(tokens);  // {4, 48, vocab}
        torch::Tensor f_gate = torch::zeros_like(gate), f_o = torch::zeros_like(o);
        for (std::int64_t s = 0; s < 4; ++s) {
            const auto loss = torch::nn::functional::cross_entropy(logits[s].narrow(0, 0, 47), tokens[s].narrow(0, 1, 47));
            const auto g = torch::autograd::grad({loss}, {gate, o}, {}, /*retain_graph=*/true);
            f_gate += g[0].square();
            f_o += g[1].square();
        }
        gate.requires_grad_(false);
        o.requires_grad_(false);
        QVERIFY(rel_diff(sens.layers[2][LinearKind::Gate].fisher, f_gate) < 1e-4);
        QVERIFY(rel_diff(sens.layers[4][LinearKind::O].fisher, f_o) < 1e-4);
        // The pass leaves the model as it found it.
        for (const auto& l : m->layers()) QVERIFY(!l.q.weight.requires_grad());
    }

    void factoredStatisticsAndHessian() {
        auto m = stories_model();
        const auto tokens = calib_tokens(3, 40, 5);
        const auto sens = calib::compute_sensitivity(*m, tokens);
        QCOMPARE(sens.tokens, 120);

        // H against X^T X gathered by a plain forward; c = diag(H) / tokens.
        torch::Tensor x_down;
        m->set_input_observer([&](int layer, LinearKind kind, const torch::Tensor& x) {
            if (layer == 3 && kind == LinearKind::Down) x_down = x.detach().reshape({-1, x.size(-1)});
        });
        {
            torch::NoGradGuard g;
            m->forward(tokens);
        }
        m->set_input_observer(nullptr);
        const auto& l3 = sens.layers[3];
        QVERIFY(rel_diff(l3.hessian_of(LinearKind::Down), x_down.t().mm(x_down)) < 1e-5);
        for (int s = 0; s < calib::kInputSites; ++s) {
            const auto& h = l3.hessian[static_cast<std::size_t>(s)];
            QVERIFY(h.defined());
            QVERIFY(rel_diff(h, h.t()) < 1e-6);
        }
        for (int k = 0; k < model::kLinearKinds; ++k) {
            const auto kind = static_cast<LinearKind>(k);
            QVERIFY(rel_diff(l3[kind].c, l3.hessian_of(kind).diagonal() / 120.0) < 1e-5);
            QVERIFY((l3[kind].r >= 0).all().item<bool>());
            QVERIFY(l3[kind].r.sum().item<double>() > 0);
        }
        QVERIFY(torch::equal(l3[LinearKind::Q].c, l3[LinearKind::V].c));

        // Across all 35 matrices r c^T correlates with F.
        double sum_log = 0.0;
        int count = 0;
        for (std::size_t l = 0; l < sens.layers.size(); ++l)
            for (int k = 0; k < model::kLinearKinds; ++k) {
                const auto& s = sens.layers[l][static_cast<LinearKind>(k)];
                const auto corr = calib::factored_correlation(s.fisher, s.r, s.c);
                QVERIFY(std::isfinite(corr.pearson) && std::isfinite(corr.log_pearson));
                QVERIFY(corr.pearson > -1.0001 && corr.pearson < 1.0001);
                sum_log += corr.log_pearson;
                ++count;
            }
        qInfo("mean log-space correlation of r c^T with F over %d matrices: %.3f", count, sum_log / count);
        QVERIFY(sum_log / count > 0.3);
        QVERIFY_THROWS_EXCEPTION(InputError, calib::factored_correlation(l3[LinearKind::Q].fisher, l3[LinearKind::Gate].r,
                                                                         l3[LinearKind::Q].c));
    }

    // One sequence of 2 tokens: one predicted position, so dL/dW = delta x^T is exactly rank one and
    // F_ij = r_i * x_j^2: the row sums of F are proportional to r. (Not q/k: with one visible key the
    // softmax is constant, so their gradients vanish.)
    void factoredIsExactForOnePosition() {
        auto m = stories_model();
        const auto tokens = calib_tokens(1, 2, 3);
        const auto sens = calib::compute_sensitivity(*m, tokens);
        for (auto kind : {LinearKind::V, LinearKind::O, LinearKind::Gate, LinearKind::Down}) {
            const auto& s = sens.layers[1][kind];
            const auto rows = s.fisher.sum(1, false, torch::kDouble);
            const auto r = s.r.to(torch::kDouble);
            const auto ratio = rows.sum().item<double>() / r.sum().item<double>();
            qInfo("%s: %.3e", model::linear_kind_name(kind), rel_diff(r * ratio, rows));
            QVERIFY(rel_diff(r * ratio, rows) < 1e-4);
        }
    }

    void cancellationStopsWithinTheNextSequence() {
        auto m = stories_model();
        const auto tokens = calib_tokens(6, 16);
        CancelToken token;
        double last = -1;
        Progress progress{&token, [&](double done, double, const std::string& stage) {
                              QCOMPARE(stage, std::string("sensitivity"));
                              last = done;
                              if (done >= 1) token.cancel();
                          }};
        QVERIFY_THROWS_EXCEPTION(CancelledError, calib::compute_sensitivity(*m, tokens, {}, progress));
        QCOMPARE(last, 1.0);  // sequence 1 may finish, sequence 2 never starts
        for (const auto& l : m->layers()) QVERIFY(!l.down.weight.requires_grad());
        // A token cancelled up front stops before any work; the model still runs normally after.
        QVERIFY_THROWS_EXCEPTION(CancelledError, calib::compute_sensitivity(*m, tokens, {}, progress));
        torch::NoGradGuard g;
        QVERIFY(torch::isfinite(m->forward(tokens.narrow(0, 0, 1))).all().item<bool>());
    }

    // Timing, run on demand: SCALEBITS_BENCH=N runs N sequences of 512 tokens on stories260K and,
    // when present, SmolLM2, and prints seconds per sequence and the peak resident memory.
    void benchSensitivity() {
        const int n = qEnvironmentVariableIntValue("SCALEBITS_BENCH");
        if (n <= 0) QSKIP("set SCALEBITS_BENCH=<sequences> to time the sensitivity pass");
        auto run = [&](const model::Checkpoint& ckpt) {
            model::LlamaModel m(ckpt);
            const auto set = calib::load_calibration_set(*ckpt.tokenizer, kC4, n, 512);
            const auto sens = calib::compute_sensitivity(m, set.tokens);
            struct rusage ru {};
            getrusage(RUSAGE_SELF, &ru);
            qInfo("%s: %d x 512 tokens, %.2f s per sequence (%d threads), mean loss %.3f, peak RSS %.0f MiB",
                  ckpt.path.filename().string().c_str(), n, sens.seconds / n, torch::get_num_threads(), sens.mean_loss,
                  static_cast<double>(ru.ru_maxrss) / 1024.0);
        };
        run(stories_checkpoint());
        if (std::filesystem::exists(kSmolGguf)) run(model::load_checkpoint(kSmolGguf));
    }

    void rejectsBadTokens() {
        auto m = stories_model();
        QVERIFY_THROWS_EXCEPTION(InputError, calib::compute_sensitivity(*m, torch::zeros({4}, torch::kLong)));
        QVERIFY_THROWS_EXCEPTION(InputError, calib::compute_sensitivity(*m, torch::zeros({2, 1}, torch::kLong)));
        QVERIFY_THROWS_EXCEPTION(InputError, calib::compute_sensitivity(*m, torch::zeros({2, 8}, torch::kFloat)));
        QVERIFY_THROWS_EXCEPTION(InputError, calib::compute_sensitivity(*m, torch::full({1, 8}, 9999, torch::kLong)));
        QVERIFY(!m->layers()[0].q.weight.requires_grad());
    }
};

QTEST_APPLESS_MAIN(TestCalib)
#include "tst_calib.moc"
