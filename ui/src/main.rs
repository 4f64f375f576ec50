fn main() { roost_ui::mount(); }
