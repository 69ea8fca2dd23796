"""MXNet 1.9.1's SGD on a CPU: large parameters updated one by one, with the same arithmetic.

`gluon.Trainer(..., 'sgd', ...)` updates every dense parameter with `multi_sgd_update` (or
`multi_sgd_mom_update`), which takes groups of up to four arrays. Its CPU kernel is slow on large
arrays: on one thread it took 37.6 ms for a 4096 x 4096 weight where `sgd_update` took 19.4 ms
(16.6 against 11.8 ms on two threads), and AlexNet's step at 67x67, batch 32, takes 181 ms with
this module against 218 ms without (benchmarks/sgd_update.py; benchmarks/README.md, "SGD's
update on a CPU"). Both kernels compute
`(1 - lr*wd) * w - lr * clip(rescale_grad * g)` and give the same bits
(tests/test_cpu_sgd.py). So `install` makes SGD send CPU arrays of at least `LARGE` elements to
the single-array kernels and leaves everything else (small arrays, GPUs, float16 master copies,
sparse gradients) to MXNet's own code. The notebooks see nothing but the speed.
"""

LARGE = 1 << 16  # elements: below this one kernel call per array costs more than grouping saves


def _large_on_cpu(weight, grad):
    return (weight.context.device_type == 'cpu' and weight.size >= LARGE
            and weight.stype == 'default' and grad.stype == 'default')


def install(mxnet):
    """Route large CPU arrays of `mxnet.optimizer.SGD` to `sgd_update`/`sgd_mom_update` (once)."""
    sgd = mxnet.optimizer.SGD
    if getattr(sgd, 'course_cpu_sgd', False):  # a class flag: a benchmark may put MXNet's back
        return
    grouped = sgd._update_impl
    nd = mxnet.nd

    def _update_impl(self, indices, weights, grads, states, multi_precision=False):
        if not isinstance(indices, (tuple, list)):
            indices, weights, grads, states = [indices], [weights], [grads], [states]
        large = [] if multi_precision else \
            [i for i, (w, g) in enumerate(zip(weights, grads)) if _large_on_cpu(w, g)]
        small = [i for i in range(len(indices)) if i not in large]
        if small:
            grouped(self, *([seq[i] for i in small] for seq in (indices, weights, grads, states)),
                    multi_precision=multi_precision)
        if not large:
            return
        chosen = [indices[i] for i in large]
        self._update_count(chosen)  # what MXNet's own code does first, for the same indices
        kwargs = {'rescale_grad': self.rescale_grad}
        if self.clip_gradient:
            kwargs['clip_gradient'] = self.clip_gradient
        for i, lr, wd in zip(large, self._get_lrs(chosen), self._get_wds(chosen)):
            if self.momentum > 0:
                nd.sgd_mom_update(weights[i], grads[i], states[i], out=weights[i], lr=lr, wd=wd,
                                  momentum=self.momentum, **kwargs)
            else:
                nd.sgd_update(weights[i], grads[i], out=weights[i], lr=lr, wd=wd, **kwargs)

    _update_impl.grouped = grouped  # MXNet's own, for the test and benchmark that compare them
    sgd._update_impl, sgd.course_cpu_sgd = _update_impl, True
