cspnet-quantization 1
layers 5
parameters_crc32 0badf00d
method minmax
images 10
conv 0 1.5 unsigned
conv 3 0.25 signed
