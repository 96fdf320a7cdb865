use pm_bench::baseline_router::Baseline;
use pm_bench::drive::per_second;
use pm_bench::routed::Routed;
fn main() {
    let side = std::env::args().nth(1).unwrap_or_default();
    let workers: usize = std::env::args().nth(2).map_or(2, |w| w.parse().unwrap());
    let pubs: usize = std::env::args().nth(3).map_or(64, |w| w.parse().unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let events = 1_000_000;
        if side == "both" {
            let (b, _) = Baseline::start(10_000, pubs).await;
            let (r, _) = Routed::start(10_000, pubs).await;
            let mut ratios = vec![];
            for _ in 0..5 {
                let tb = b.publish(events, pubs).await;
                let tr = r.publish(events, pubs).await;
                ratios.push(tb.as_secs_f64() / tr.as_secs_f64());
                println!(
                    "router {:.0} runtime {:.0} ratio {:.3}",
                    per_second(events, tb),
                    per_second(events, tr),
                    tb.as_secs_f64() / tr.as_secs_f64()
                );
            }
            ratios.sort_by(|a, b| a.partial_cmp(b).unwrap());
            println!("median ratio {:.3}", ratios[2]);
            return;
        }
        if side == "router" {
            let (b, _) = Baseline::start(10_000, pubs).await;
            for _ in 0..3 {
                let t = b.publish(events, pubs).await;
                println!("router {:.0}", per_second(events, t));
            }
        } else if side == "discard" {
            let (r, _) = Routed::start_on(pm_bench::saga::DiscardStore, 10_000, pubs).await;
            for _ in 0..3 {
                let t = r.publish(events, pubs).await;
                println!("discard {:.0}", per_second(events, t));
            }
        } else {
            let (r, _) = Routed::start(10_000, pubs).await;
            for _ in 0..3 {
                let t = r.publish(events, pubs).await;
                println!("runtime {:.0}", per_second(events, t));
            }
        }
    });
}
