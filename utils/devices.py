"""Which device to train on: gpu(0) when MXNet can use it, else cpu(0)."""
from . import compat

mx = compat.import_mxnet()


def gpu_available():
    """True when MXNet can run an operation on gpu(0)."""
    return try_gpu().device_type == 'gpu'


_chosen = None


def try_gpu():
    """gpu(0) if MXNet has a usable GPU, else cpu(0). Checked once, by running a tiny operation.

    The first call also shows what utils.compat found before MXNet started (for example a GPU that
    MXNet 1.9.1 has no code for), once."""
    global _chosen
    if _chosen is None:
        _chosen = mx.cpu()
        status = compat.GPU_STATUS
        if status is not None and status.message:
            print(status.message)
        # The compat layer already decided (e.g. an H100, for which MXNet 1.9.1 has no code).
        if status is not None and status.mxnet_build == 'gpu' and not status.usable:
            return _chosen
        if mx.context.num_gpus() > 0:
            try:
                ctx = mx.gpu(0)
                (mx.nd.ones((1,), ctx=ctx) * 2).asnumpy()
                _chosen = ctx
            except mx.base.MXNetError as err:
                print(f"MXNet sees a GPU but cannot use it ({str(err).splitlines()[0]}); using the CPU.")
    return _chosen
