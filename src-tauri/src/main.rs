fn main() { roost_desktop::run(); }
