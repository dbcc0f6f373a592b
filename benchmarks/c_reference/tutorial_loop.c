/* Hand-written C reference for the tutorial's 2-2-2 logistic network: online SGD,
 * fixed biases, squared loss, in fastbp's canonical order of arithmetic. Used only
 * by the benchmarks (compiled there with gcc -O3 -ffp-contract=off); not shipped.
 *
 * params follows fastbp's flat layout: w1 w2 w3 w4 b1 b1' w5 w6 w7 w8 b2 b2'. */
#include <math.h>

static inline double logistic(double z) { return 1.0 / (1.0 + exp(-z)); }

void train_tutorial(double *params, long rounds, double x1, double x2,
                    double t1, double t2, double lr)
{
    double w1 = params[0], w2 = params[1], w3 = params[2], w4 = params[3];
    const double b1 = params[4], b1b = params[5];
    double w5 = params[6], w6 = params[7], w7 = params[8], w8 = params[9];
    const double b2 = params[10], b2b = params[11];
    for (long r = 0; r < rounds; r++) {
        double h1 = logistic(((0.0 + w1 * x1) + w2 * x2) + b1);
        double h2 = logistic(((0.0 + w3 * x1) + w4 * x2) + b1b);
        double o1 = logistic(((0.0 + w5 * h1) + w6 * h2) + b2);
        double o2 = logistic(((0.0 + w7 * h1) + w8 * h2) + b2b);
        double d1 = (o1 - t1) * (o1 * (1.0 - o1));
        double d2 = (o2 - t2) * (o2 * (1.0 - o2));
        double e1 = ((0.0 + d1 * w5) + d2 * w7) * (h1 * (1.0 - h1));
        double e2 = ((0.0 + d1 * w6) + d2 * w8) * (h2 * (1.0 - h2));
        w5 = w5 - lr * (0.0 + d1 * h1);
        w6 = w6 - lr * (0.0 + d1 * h2);
        w7 = w7 - lr * (0.0 + d2 * h1);
        w8 = w8 - lr * (0.0 + d2 * h2);
        w1 = w1 - lr * (0.0 + e1 * x1);
        w2 = w2 - lr * (0.0 + e1 * x2);
        w3 = w3 - lr * (0.0 + e2 * x1);
        w4 = w4 - lr * (0.0 + e2 * x2);
    }
    params[0] = w1; params[1] = w2; params[2] = w3; params[3] = w4;
    params[6] = w5; params[7] = w6; params[8] = w7; params[9] = w8;
}
