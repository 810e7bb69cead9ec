//! A device-style program: the digits classifier trained by the main example
//! (`cargo run --release --example digits`, weights copied to
//! examples/digits.safetensors) is baked into the binary at compile time
//! with `weights(…)`, lives in a `static` in read-only memory, and classifies
//! every digit with no heap allocation.
//!
//! ```sh
//! cargo run --release --example device
//! ```
mod common;

use staticnet::nalgebra::SVector;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

staticnet::network! {
    /// The seed's digit classifier with its trained weights baked in.
    pub struct Digits {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        weights("examples/digits.safetensors");
    }
}

/// In read-only data: no constructor runs, no file is read.
static MODEL: Digits<f32> = Digits::<f32>::PRETRAINED;

/// Counts heap allocations, to show that inference makes none.
struct Counting;
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = common::load_digits()?;
    let images: Vec<SVector<f32, 64>> = data.pixels.iter().map(|p| SVector::from_fn(|i, _| p[i] / 16.0)).collect();

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut correct = 0usize;
    for (image, &label) in images.iter().zip(&data.labels) {
        let probabilities = MODEL.forward(image);
        if probabilities.argmax().0 == usize::from(label) {
            correct += 1;
        }
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;

    println!("size_of::<Digits<f32>>() = {} bytes", std::mem::size_of::<Digits<f32>>());
    println!(
        "weights in read-only data (static MODEL): {} bytes, {} parameters",
        std::mem::size_of_val(&MODEL),
        Digits::<f32>::PARAM_COUNT
    );
    println!(
        "classified {} digits: {:.2}% correct (the training and the test split alike)",
        images.len(),
        100.0 * correct as f64 / images.len() as f64
    );
    println!("heap allocations during inference: {allocations}");
    Ok(())
}
