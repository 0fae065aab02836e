# Copyright (c) mmhier contributors. All rights reserved.
"""Appendix A/B solvers against hand-computed values and brute force."""
import math
from unittest import TestCase

from mmhier.models.necks import (solve_conv_params, solve_conv_window,
                                 solve_mode_dims, solve_pool_params,
                                 solve_pool_window)
from mmhier.models.necks.conversion_solvers import divisors

# stage shapes (D, H, W) at 224 px
RESNET50 = [(256, 56, 56), (512, 28, 28), (1024, 14, 14), (2048, 7, 7)]
VGG16 = [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14),
         (512, 7, 7)]
# ResNet-50 at a non-square 192x256 input
RESNET50_192x256 = [(256, 48, 64), (512, 24, 32), (1024, 12, 16), (2048, 6, 8)]


def conv_out(n, kernel, stride, pad):
    """Appendix A: (n - F + 2Z) / G + 1, None when not exact."""
    span = n - kernel + 2 * pad
    return span // stride + 1 if span >= 0 and span % stride == 0 else None


class TestSolvePoolParams(TestCase):

    def check(self, shape, p, kernel, stride, out_size):
        params = solve_pool_params(*shape, p)
        self.assertEqual(params.kernel_size, kernel, (shape, p))
        self.assertEqual(params.stride, stride, (shape, p))
        self.assertEqual(params.out_size, out_size, (shape, p))
        # D_pool * H_pool * W_pool = p with (n - F) / G + 1 per axis
        h = conv_out(shape[1], kernel[0], stride[0], 0)
        w = conv_out(shape[2], kernel[1], stride[1], 0)
        self.assertEqual(shape[0] * h * w, p)

    def test_paper_formula_square_case_1(self):
        # appendix B case 1: F = G = W_s * sqrt(D_s / p) when integral
        for shape, p in [(RESNET50[1], 2048), (RESNET50[3], 2048),
                         (RESNET50[0], 256), (VGG16[1], 2048),
                         (VGG16[3], 2048), (VGG16[0], 256), (VGG16[2], 256)]:
            d, n, _ = shape
            f = n * math.sqrt(d / p)
            self.assertEqual(f, int(f))
            params = solve_pool_params(*shape, p)
            self.assertEqual(params.kernel_size, (int(f), int(f)))
            self.assertEqual(params.stride, (int(f), int(f)))
            self.assertEqual(params.cases, (1, 1))

    def test_resnet50(self):
        # p = 2048: 256 ch -> 8 cells = 2x4 (56/2, 56/4); 512 ch -> 2x2;
        # 1024 ch -> 1x2 (14/1, 14/2); 2048 ch -> global 7x7
        self.check(RESNET50[0], 2048, (28, 14), (28, 14), (2, 4))
        self.check(RESNET50[1], 2048, (14, 14), (14, 14), (2, 2))
        self.check(RESNET50[2], 2048, (14, 7), (14, 7), (1, 2))
        self.check(RESNET50[3], 2048, (7, 7), (7, 7), (1, 1))
        # p = 256: only the 256-channel stage can be pooled to 256 values
        self.check(RESNET50[0], 256, (56, 56), (56, 56), (1, 1))

    def test_vgg16(self):
        self.check(VGG16[0], 2048, (28, 14), (28, 14), (4, 8))
        self.check(VGG16[1], 2048, (14, 14), (14, 14), (4, 4))
        self.check(VGG16[2], 2048, (14, 7), (14, 7), (2, 4))
        self.check(VGG16[3], 2048, (7, 7), (7, 7), (2, 2))
        # 7 is not even: appendix B case 2, overlapping windows
        # (7 - 4) / 3 + 1 = 2
        self.check(VGG16[4], 2048, (4, 4), (3, 3), (2, 2))
        self.assertEqual(solve_pool_params(*VGG16[4], 2048).cases, (2, 2))
        self.check(VGG16[0], 256, (56, 56), (56, 56), (2, 2))
        self.check(VGG16[1], 256, (56, 28), (56, 28), (1, 2))
        self.check(VGG16[2], 256, (28, 28), (28, 28), (1, 1))

    def test_non_square(self):
        # aspect 48:64 = 0.75 -> 2x4 rather than 4x2 for 8 cells
        self.check(RESNET50_192x256[0], 2048, (24, 16), (24, 16), (2, 4))
        self.check(RESNET50_192x256[1], 2048, (12, 16), (12, 16), (2, 2))
        self.check(RESNET50_192x256[2], 2048, (12, 8), (12, 8), (1, 2))
        self.check(RESNET50_192x256[3], 2048, (6, 8), (6, 8), (1, 1))

    def test_no_exact_solution_names_nearby_p(self):
        with self.assertRaisesRegex(
                ValueError, r'p=256.*512 \(pooled to '
                r'1x1\).*projection'):
            solve_pool_params(*RESNET50[1], 256)
        # 1000 is not a multiple of 512: the neighbours 512 and 1024 work
        with self.assertRaisesRegex(
                ValueError, r'512 \(pooled to 1x1\), 1024 \(pooled '
                r'to 1x2\)'):
            solve_pool_params(512, 28, 28, 1000)

    def test_inexact_fallback(self):
        # D_s >= p: a global pooling before the projection
        params = solve_pool_params(*RESNET50[3], 256, exact=False)
        self.assertEqual(params.out_size, (1, 1))
        self.assertEqual(params.kernel_size, (7, 7))
        # exact solution still preferred
        self.assertEqual(
            solve_pool_params(*RESNET50[1], 2048, exact=False).out_size,
            (2, 2))
        # 1000 // 512 = 1 cell
        self.assertEqual(
            solve_pool_params(512, 28, 28, 1000, exact=False).out_size, (1, 1))
        self.assertEqual(
            solve_pool_params(64, 8, 8, 1000, exact=False).out_size, (3, 5))

    def test_out_size(self):
        params = solve_pool_params(512, 7, 7, 512 * 6, out_size=(2, 3))
        self.assertEqual(params.kernel_size, (4, 3))
        self.assertEqual(params.stride, (3, 2))
        with self.assertRaisesRegex(ValueError, 'gives 2048 values, not '
                                    'p=1000'):
            solve_pool_params(512, 7, 7, 1000, out_size=(2, 2))
        with self.assertRaisesRegex(ValueError, 'larger'):
            solve_pool_params(512, 7, 7, 512 * 64, out_size=(8, 8))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'p must be a positive int, '
                                    'got 0'):
            solve_pool_params(512, 7, 7, 0)


class TestSolveWindows(TestCase):

    def test_conv_window_brute_force(self):
        # smallest F, then smallest Z, over every (F, G, Z) with
        # 1 <= G <= F, 0 <= Z <= F // 2 and an exact appendix-A division
        for n in range(1, 26):
            for o in range(1, n + 1):
                best = min((f, z, g) for f in range(1, n + 1)
                           for z in range(f // 2 + 1) for g in range(1, f + 1)
                           if conv_out(n, f, g, z) == o and (o > 1 or z == 0))
                kernel, stride, pad = solve_conv_window(n, o)
                self.assertEqual(conv_out(n, kernel, stride, pad), o)
                if o > 1:
                    self.assertEqual((kernel, pad), best[:2], (n, o))
                else:
                    self.assertEqual((kernel, pad), (n, 0))

    def test_pool_window_brute_force(self):
        for n in range(1, 26):
            for o in range(1, n + 1):
                best = min(
                    f for f in range(1, n + 1) for g in range(1, f + 1)
                    if conv_out(n, f, g, 0) == o)
                kernel, stride = solve_pool_window(n, o)
                self.assertEqual(conv_out(n, kernel, stride, 0), o)
                self.assertEqual(kernel, best, (n, o))
                if n % o == 0:  # appendix B case 1: disjoint
                    self.assertEqual((kernel, stride), (n // o, n // o))

    def test_output_longer_than_input(self):
        with self.assertRaisesRegex(ValueError, 'length 7 into 8'):
            solve_conv_window(7, 8)
        with self.assertRaisesRegex(ValueError, 'length 7 into 8'):
            solve_pool_window(7, 8)


class TestSolveConvParams(TestCase):

    def check(self, shape, p, filters, kernel, stride, pad, out_size, cases):
        params = solve_conv_params(*shape, p)
        self.assertEqual(
            (params.out_channels, params.kernel_size, params.stride,
             params.padding, params.out_size, params.cases),
            (filters, kernel, stride, pad, out_size, cases), (shape, p))
        h = conv_out(shape[1], kernel[0], stride[0], pad[0])
        w = conv_out(shape[2], kernel[1], stride[1], pad[1])
        self.assertEqual(filters * h * w, p)

    def test_resnet50(self):
        # p = 256: 16 filters on a 4x4 map (K = h w = 16)
        # 56 / 14 = 4 and 28 / 7 = 4: case 2, disjoint
        self.check(RESNET50[0], 256, 16, (14, 14), (14, 14), (0, 0), (4, 4),
                   (2, 2))
        self.check(RESNET50[1], 256, 16, (7, 7), (7, 7), (0, 0), (4, 4),
                   (2, 2))
        # (14 + 2 * 1) / 4 = 4: case 2 with padding
        self.check(RESNET50[2], 256, 16, (4, 4), (4, 4), (1, 1), (4, 4),
                   (2, 2))
        # (7 - 3 + 2 * 1) / 2 + 1 = 4: case 4, 1 < G < F
        self.check(RESNET50[3], 256, 16, (3, 3), (2, 2), (1, 1), (4, 4),
                   (4, 4))
        # p = 2048: 32 filters on 8x8 (tie with 64 on 4x8 broken by aspect)
        self.check(RESNET50[0], 2048, 32, (7, 7), (7, 7), (0, 0), (8, 8),
                   (2, 2))
        self.check(RESNET50[1], 2048, 32, (4, 4), (4, 4), (2, 2), (8, 8),
                   (2, 2))
        self.check(RESNET50[2], 2048, 32, (2, 2), (2, 2), (1, 1), (8, 8),
                   (2, 2))
        # 8x8 does not fit in 7x7: 128 filters on 4x4
        self.check(RESNET50[3], 2048, 128, (3, 3), (2, 2), (1, 1), (4, 4),
                   (4, 4))

    def test_vgg16(self):
        self.check(VGG16[0], 256, 16, (28, 28), (28, 28), (0, 0), (4, 4),
                   (2, 2))
        self.check(VGG16[4], 256, 16, (3, 3), (2, 2), (1, 1), (4, 4), (4, 4))
        self.check(VGG16[0], 2048, 32, (14, 14), (14, 14), (0, 0), (8, 8),
                   (2, 2))
        self.check(VGG16[3], 2048, 32, (2, 2), (2, 2), (1, 1), (8, 8), (2, 2))

    def test_non_square(self):
        # 6x8 map, p = 256: 4x4 (aspect 1 is closer to 0.75 than 2x8's 0.25)
        # height: (6 - 3 + 2) / ... -> smallest F for 6 -> 4 is F=2, Z=1,
        # G=2: (6 - 2 + 2) / 2 + 1 = 4; width: 8 / 2 = 4 disjoint
        self.check(RESNET50_192x256[3], 256, 16, (2, 2), (2, 2), (1, 0),
                   (4, 4), (2, 2))
        # 48x64 map, p = 2048: 8x8 with 32 filters: 48 / 6, 64 / 8
        self.check(RESNET50_192x256[0], 2048, 32, (6, 8), (6, 8), (0, 0),
                   (8, 8), (2, 2))

    def test_case_1_and_3(self):
        # case 1: F = W_s, K = p, Z = 0
        params = solve_conv_params(*RESNET50[3], 256, out_size=(1, 1))
        self.assertEqual((params.out_channels, params.kernel_size,
                          params.padding, params.cases),
                         (256, (7, 7), (0, 0), (1, 1)))
        # case 3: G = 1, Z = 0, K = p / (W_s - F + 1)^2: 5 -> 4 with F = 2
        params = solve_conv_params(8, 5, 5, 32, out_size=(4, 4))
        self.assertEqual((params.out_channels, params.kernel_size,
                          params.stride, params.padding, params.cases),
                         (2, (2, 2), (1, 1), (0, 0), (3, 3)))

    def test_no_exact_solution_names_nearby_p(self):
        with self.assertRaisesRegex(ValueError,
                                    r'p=250 .*Nearest p that work: 240, 256'):
            solve_conv_params(*RESNET50[2], 250, out_size=(4, 4))
        # K = 3 filters: p / 3 must be h * w with h, w <= 7; the nearest
        # such products to 100 / 3 are 30 = 5 * 6 and 35 = 5 * 7
        with self.assertRaisesRegex(ValueError,
                                    r'num_filters=3.*p=100.*: 90, 105$'):
            solve_conv_params(*RESNET50[3], 100, num_filters=3)
        params = solve_conv_params(*RESNET50[3], 256, num_filters=64)
        self.assertEqual((params.out_channels, params.out_size), (64, (2, 2)))

    def test_always_exact(self):
        # brute force over small shapes: the auto solution always gives p
        for n_h, n_w in [(1, 1), (3, 5), (7, 7), (10, 6)]:
            for p in [1, 6, 64, 100, 2048]:
                params = solve_conv_params(3, n_h, n_w, p)
                h = conv_out(n_h, params.kernel_size[0], params.stride[0],
                             params.padding[0])
                w = conv_out(n_w, params.kernel_size[1], params.stride[1],
                             params.padding[1])
                self.assertEqual((h, w), params.out_size)
                self.assertEqual(params.out_channels * h * w, p)


class TestSolveModeDims(TestCase):

    def test_hand_computed(self):
        self.assertEqual(solve_mode_dims((256, 56, 56), 256), (16, 4, 4))
        self.assertEqual(solve_mode_dims((2048, 7, 7), 256), (256, 1, 1))
        self.assertEqual(solve_mode_dims((2048, 7, 7), 2048), (512, 2, 2))
        self.assertEqual(solve_mode_dims((64, 112, 112), 256), (4, 8, 8))

    def test_brute_force(self):
        for dims in [(256, 56, 56), (1024, 14, 14), (64, 48, 64), (5, 3, 9)]:
            for p in [12, 256, 2048]:
                got = solve_mode_dims(dims, p)
                self.assertEqual(math.prod(got), p)

                def cost(t):
                    return sum((math.log(a) - math.log(b))**2
                               for a, b in zip(t, dims))

                best = min(
                    cost((m, n, p // (m * n))) for m in divisors(p)
                    for n in divisors(p // m))
                self.assertAlmostEqual(cost(got), best, places=9)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, r'\(D, H, W\), got \(4, 4\)'):
            solve_mode_dims((4, 4), 16)
