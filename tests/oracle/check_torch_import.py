# A real PyTorch export (Conv+BN+LeakyReLU/Mish/SiLU, MaxPool, residual+ReLU,
# nearest Upsample, cat, Sigmoid, global pool, Linear) at opsets 11, 13, 17,
# imported by `cspnet import` (argv[1]: the CLI) and run by the cspnet Python
# module: outputs must match PyTorch's to 1e-5 of the largest |value|.
# Exit 3 (skipped) without torch or the cspnet module.
import shutil, subprocess, sys, tempfile
try:
    import numpy as np, torch, torch.nn as nn
    import cspnet
except Exception as e:  # noqa: BLE001
    print(f"SKIPPED: {e}")
    sys.exit(3)

def cba(i, o, k, act):
    return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2, bias=False), nn.BatchNorm2d(o), act)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = cba(3, 16, 3, nn.LeakyReLU(0.1))
        self.pool = nn.MaxPool2d(2, 2)
        self.c2 = cba(16, 16, 3, nn.Mish())
        self.c3 = cba(16, 16, 1, nn.SiLU())
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.c4 = nn.Sequential(nn.Conv2d(32, 8, 1), nn.Sigmoid())
        self.fc = nn.Linear(8, 5)
    def forward(self, x):
        a = self.c1(x)
        p = self.pool(a)
        r = torch.relu(self.c3(self.c2(p)) + p)
        u = torch.cat([self.up(r), a], 1)
        g = torch.flatten(nn.functional.adaptive_avg_pool2d(self.c4(u), 1), 1)
        return self.fc(g)

torch.manual_seed(0)
net = Net()
for m in net.modules():
    if isinstance(m, nn.BatchNorm2d):
        m.running_mean.uniform_(-0.3, 0.3); m.running_var.uniform_(0.5, 1.5)
        m.weight.data.uniform_(0.5, 1.5); m.bias.data.uniform_(-0.3, 0.3)
net.eval()
# Debian's torch has no NumPy 2 bridge: values go through lists.
xn = np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32)
x = torch.tensor(xn.tolist())
want = np.array(net(x).detach().tolist(), dtype=np.float32)
status = 0
tmp = tempfile.mkdtemp(prefix="cspnet_torch_import_")
for opset in (11, 13, 17):
    path = f"{tmp}/m{opset}.onnx"
    torch.onnx.export(net, x, path, opset_version=opset, input_names=["input"])
    r = subprocess.run([sys.argv[1], "import", path, f"{tmp}/m{opset}.cfg", f"{tmp}/m{opset}.weights"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(f"opset {opset}: import failed: {r.stderr.strip()}"); status = 1; continue
    got = cspnet.Network.from_cfg(f"{tmp}/m{opset}.cfg", f"{tmp}/m{opset}.weights").forward(xn)[0].reshape(want.shape)
    err = np.abs(got - want).max() / np.abs(want).max()
    print(f"opset {opset}: {r.stdout.strip()}; max|diff|/max|ref| = {err:.2e}")
    status |= err > 1e-5
shutil.rmtree(tmp)
sys.exit(int(status))
