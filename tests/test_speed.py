"""utils.speed: the machine's measured rates (small sizes: these run in seconds). Each rate is
checked against the wall time of the call that measured it: the best of `repeats` runs can never be
slower than the whole call's average."""
import time

import pytest

import utils

mx = utils.mx


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def test_matmul_and_bandwidth_rates_are_at_least_what_the_wall_clock_saw():
    n, repeats = 256, 3
    flops, wall = timed(utils.matmul_flops, n=n, repeats=repeats)
    assert 2 * n ** 3 * repeats / wall <= flops < 1e14  # 100 TFLOP/s: no CPU is that fast
    megabytes = 8
    rate, wall = timed(utils.memory_bandwidth, megabytes=megabytes, repeats=repeats)
    assert 2 * megabytes * 1e6 * repeats / wall <= rate < 1e13
    with pytest.raises(ValueError, match='positive'):
        utils.matmul_flops(n=0)


def test_machine_description_counts_cores_and_memory_and_no_gpu_on_the_cpu():
    info = utils.cpu_info()
    assert 1 <= info['logical_cores'] <= 4096 and 0.1 < info['memory_gb'] < 1e5
    assert utils.gpu_info(mx.cpu()) is None


def test_training_speed_is_at_least_what_the_wall_clock_saw_and_leaves_the_weights_alone():
    net = utils.lenet()
    net.initialize()
    net(mx.nd.zeros((1, 1, 28, 28)))
    before = {k: p.data().copy() for k, p in net.collect_params().items()}
    batch, steps = 8, 2
    speed, wall = timed(utils.training_speed, net, (1, 28, 28), batch_size=batch, steps=steps)
    assert batch * steps / wall <= speed < 1e9
    for k, p in net.collect_params().items():
        assert (p.data() == before[k]).min().asscalar() == 1, k
