"""FastCar's FPGA simulator (installed as effteach.fpga_sim); filled by that chapter."""
