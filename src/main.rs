fn main() {
    print!("{}", recert::schema::render());
}
